//! The QMP client against a real QEMU.

use std::time::Duration;

use vmledger_hypervisor::qmp::{Event, MigrationCapability, MigrationParameters, QmpEvent, RunState};

use crate::guest::{Workload, last_tick, wait_for_tick};
use crate::support::{TICKS, given_a_counting_guest};

/// Waits for the first event `pick` answers `Some` for.
async fn next_event<T>(
    events: &mut tokio::sync::broadcast::Receiver<QmpEvent>,
    mut pick: impl FnMut(&Event) -> Option<T>,
) -> anyhow::Result<T> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(found) = pick(&events.recv().await?.event) {
                return Ok(found);
            }
        }
    })
    .await?
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "starts QEMU: cargo test -p vmledger-hypervisor -- --ignored"]
async fn qmp_stops_and_continues_a_real_guest_and_reports_its_events() -> anyhow::Result<()> {
    let counting = given_a_counting_guest(128, Workload::IDLE).await?;
    let qmp = counting.source.qmp();
    assert_eq!(qmp.status().await?, RunState::running);
    let before = qmp.query_migrate().await?;
    assert_eq!(before.status, "none");
    assert!(!before.finished());

    let mut events = qmp.subscribe();
    qmp.stop().await?;
    next_event(&mut events, |e| matches!(e, Event::STOP { .. }).then_some(())).await?;
    assert_eq!(qmp.status().await?, RunState::paused);
    // A paused guest does not count.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let paused_at = last_tick(counting.source.console());
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(last_tick(counting.source.console()), paused_at);

    qmp.cont().await?;
    next_event(&mut events, |e| matches!(e, Event::RESUME { .. }).then_some(())).await?;
    let paused_at = paused_at.unwrap_or(0);
    wait_for_tick(counting.source.console(), paused_at + 2, TICKS).await?;

    // The migration settings this crate uses are accepted by this QEMU.
    qmp.set_capabilities(&[(MigrationCapability::events, true)]).await?;
    qmp.set_parameters(MigrationParameters { max_bandwidth: Some(1 << 40), downtime_limit_ms: Some(500) }).await?;
    // A QEMU that was not started with `-incoming defer` refuses an incoming migration.
    assert!(qmp.migrate_incoming("unix:/nonexistent/socket").await.is_err());

    let mut source = counting.source;
    let pid = source.pid().expect("running");
    source.qmp().quit().await?;
    let exited = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if source.exit_status()?.is_some() {
                return anyhow::Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(exited.is_ok(), "QEMU {pid} did not exit after quit");
    Ok(())
}
