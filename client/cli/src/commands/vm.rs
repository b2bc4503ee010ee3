//! `vmledger vm register|show|regulation set`.

use vmledger_contract::model::{Allowed, Regulation, VirtualMachine};
use vmledger_contract::msg;

use super::hash::hash_with_progress;
use super::host::required;
use crate::args::{ImageRef, RegulationArgs, RegulationCommand, VmCommand};
use crate::context::Ctx;
use crate::output::{allowed, fields, resources, time, wire};

pub(crate) async fn run(ctx: &Ctx, command: VmCommand) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    match command {
        VmCommand::Register(args) => {
            let input = msg::RegisterVm {
                id: args.id,
                cloud_id: args.cloud,
                host_id: args.host,
                requirements: required(&args.requirements, "requirements")?,
                image_hash: image_hash(ctx, &args.image).await?,
                regulation: regulation(&args.regulation),
            };
            let committed = ledger.register_vm(&input).await?;
            ctx.out.show(&committed, || {
                format!(
                    "registered VM {} in block {} (tx {})\n{}",
                    committed.result.id,
                    committed.block_number,
                    committed.tx_id,
                    describe(&committed.result)
                )
            })
        }
        VmCommand::Show { id } => {
            let vm = ledger.get_vm(&id).await?;
            ctx.out.show(&vm, || describe(&vm))
        }
        VmCommand::Regulation(RegulationCommand::Set { vm, regulation: r }) => {
            let committed =
                ledger.set_regulation(&msg::SetRegulation { vm_id: vm, regulation: regulation(&r) }).await?;
            ctx.out.show(&committed, || {
                format!(
                    "set the regulation of VM {} in block {} (tx {})\n{}",
                    committed.result.id,
                    committed.block_number,
                    committed.tx_id,
                    describe(&committed.result)
                )
            })
        }
    }
}

/// The hash given, or the image's hash computed here.
pub(crate) async fn image_hash(ctx: &Ctx, image: &ImageRef) -> anyhow::Result<String> {
    match (&image.image, &image.image_hash) {
        (_, Some(hash)) => Ok(hash.clone()),
        (Some(path), None) => Ok(hash_with_progress(ctx, path).await?.hash),
        (None, None) => Err(crate::exit::UsageError("give --image FILE or --image-hash HEX".into()).into()),
    }
}

pub(crate) fn regulation(args: &RegulationArgs) -> Regulation {
    Regulation { countries: allowed_list(&args.countries), organizations: allowed_list(&args.organizations) }
}

fn allowed_list(text: &str) -> Allowed {
    if text.trim().eq_ignore_ascii_case("all") {
        Allowed::All
    } else {
        Allowed::Only(text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
    }
}

pub(crate) fn describe(vm: &VirtualMachine) -> String {
    let mut pairs = vec![
        ("vm", vm.id.clone()),
        ("operator", vm.cloud_id.clone()),
        ("host", vm.host_id.clone()),
        ("status", wire(&vm.status)),
        ("since", time(&vm.since)),
        ("requirements", resources(&vm.requirements)),
        ("image sha256", vm.image_hash.clone()),
        ("countries", allowed(&vm.regulation.countries)),
        ("organisations", allowed(&vm.regulation.organizations)),
    ];
    if let Some(m) = &vm.pending_migration_id {
        pairs.push(("migrating", m.clone()));
    }
    fields(&pairs)
}
