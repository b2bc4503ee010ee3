//! `vmledger vm register|show|regulation set`.

use vmledger_contract::model::VirtualMachine;
use vmledger_contract::msg;

use crate::args::{RegulationCommand, VmCommand};
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
                requirements: args.requirements.required("requirements")?,
                image_hash: args.image.hash(ctx.out).await?,
                regulation: args.regulation.regulation(),
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
                ledger.set_regulation(&msg::SetRegulation { vm_id: vm, regulation: r.regulation() }).await?;
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
