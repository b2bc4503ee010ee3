//! `vmledger events`: the live feed of the contract's events, one per line as they come (a table
//! line, JSON, YAML, or a CSV row of the SDK's `EventRow`).

use std::time::Duration;

use vmledger_client::rows::EventRow;
use vmledger_client::{ChaincodeEvent, StartAt};
use vmledger_contract::model::Crossing;
use vmledger_contract::vocabulary::ContractEvent;

use crate::args::EventsArgs;
use crate::context::Ctx;
use crate::output::{short, wire};

pub(crate) async fn run(ctx: &Ctx, args: EventsArgs) -> anyhow::Result<()> {
    let ledger = ctx.ledger()?;
    let start = match (args.from_block, &args.after) {
        (Some(block), _) => StartAt::Block(block),
        (None, Some(id)) => StartAt::After(id.clone()),
        (None, None) => StartAt::Next,
    };
    let mut events = ledger.contract().events(start);
    let deadline = args.duration.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    ctx.out.note("listening for events (Ctrl-C to stop)");
    let mut stream = ctx.out.stream();
    let mut shown = 0u64;
    while args.count.is_none_or(|n| shown < n) {
        let next = async {
            tokio::select! {
                event = events.next() => Some(event),
                _ = tokio::signal::ctrl_c() => None,
            }
        };
        let event = match deadline {
            Some(at) => tokio::time::timeout_at(at, next).await.unwrap_or_default(),
            None => next.await,
        };
        let Some(event) = event else { break };
        let event = event?;
        if !wanted(&args, &event) {
            continue;
        }
        shown += 1;
        stream.item(&event, || EventRow::from(&event), || line(&event))?;
    }
    stream.finish()
}

fn wanted(args: &EventsArgs, event: &ChaincodeEvent) -> bool {
    if !args.names.is_empty() && !args.names.iter().any(|n| n == &event.event_name) {
        return false;
    }
    match &args.vm {
        None => true,
        Some(vm) => event.payload.get("vmId").or_else(|| event.payload.get("id")).and_then(|v| v.as_str()) == Some(vm),
    }
}

fn line(e: &ChaincodeEvent) -> String {
    let Some(event) = e.decode() else {
        return format!("{:>8}  {:<20} {}  (tx {})", e.id, e.event_name, e.payload, short(&e.tx_id));
    };
    let what = match event {
        ContractEvent::MigrationIndicated(m)
        | ContractEvent::MigrationConfirmed(m)
        | ContractEvent::MigrationRejected(m)
        | ContractEvent::MigrationCancelled(m)
        | ContractEvent::MigrationDeclined(m)
        | ContractEvent::MigrationExpired(m)
        | ContractEvent::StreamRecorded(m) => format!(
            "migration {} of VM {}: {}/{} -> {}/{} {}",
            short(&m.id),
            m.vm_id,
            m.source.cloud_id,
            m.source.host_id,
            m.destination.cloud_id,
            m.destination.host_id,
            wire(&m.status)
        ),
        ContractEvent::CloudRegistered(c) => format!("cloud {} ({}) of {}", c.id, c.name, c.msp_id),
        ContractEvent::HostRegistered(h) | ContractEvent::HostUpdated(h) => {
            format!("host {} of {} in {} managed by {}", h.id, h.cloud_id, h.country, h.organizations.join(","))
        }
        ContractEvent::VmRegistered(v) | ContractEvent::RegulationSet(v) => {
            format!("VM {} of {} on {}", v.id, v.cloud_id, v.host_id)
        }
        ContractEvent::VmLeft(r) | ContractEvent::VmArrived(r) => format!(
            "VM {} {} {}/{} by migration {}",
            r.vm_id,
            if r.crossing == Crossing::Leave { "left" } else { "arrived on" },
            r.cloud_id,
            r.host_id,
            short(&r.migration_id)
        ),
        ContractEvent::HostAvailabilityChanged(s) => {
            format!("host {} of {} is {}", s.host_id, s.cloud_id, s.availability.wire())
        }
        ContractEvent::TermsProposed(t) | ContractEvent::TermsAgreed(t) => format!(
            "terms {} {} -> {} {} (prices hash {})",
            t.id,
            t.source_cloud_id,
            t.destination_cloud_id,
            wire(&t.status),
            short(&t.private_hash)
        ),
        ContractEvent::ViolationClaimed(c) | ContractEvent::ClaimDisputed(c) | ContractEvent::ClaimAccepted(c) => {
            format!(
                "claim {} by {} against {} under {}: {} credit {} {}",
                c.id,
                c.claimant_cloud_id,
                c.accused_cloud_id,
                c.terms_id,
                wire(&c.status),
                c.credit,
                c.currency
            )
        }
    };
    format!("{:>8}  {:<20} {}  (tx {})", e.id, e.event_name, what, short(&e.tx_id))
}
