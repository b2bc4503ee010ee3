//! Live migration of a running guest through vmledger, with real QEMU on both sides.

use std::time::Duration;

use vmledger_hypervisor::qmp::RunState;
use vmledger_hypervisor::{DigestKey, Error, Load, Qemu, ReceiveOptions, SendOptions, Side, StreamEnd};

use crate::guest::{Workload, last_tick, tail, ticks, wait_for_tick};
use crate::support::{
    BOOT, Counting, Cut, MIGRATION, Migrated, TICKS, given_a_counting_guest, linked, when_it_migrates,
};

/// BlockchainBus' inter-cloud rate, 124.8 Mbit/s, in bytes per second.
const WAN: f64 = 124.8e6 / 8.0;

/// Then: both ends hashed the same bytes, the destination holds the guest paused (it has not
/// printed a tick), and after `resume` the counter goes on past the source's last tick.
async fn then_the_guest_goes_on_at_the_destination(counting: Counting, migrated: Migrated) -> anyhow::Result<()> {
    let Migrated { sent, received, arrived, last_source_tick } = migrated;
    assert_eq!(received.end, StreamEnd::Complete);
    assert_eq!(received.load, Load::Loaded);
    assert_eq!(received.bytes, sent.bytes);
    assert_eq!(sent.received_bytes, Some(sent.bytes));
    assert_eq!(received.hash, sent.hash, "both ends hash the same stream");
    assert_eq!(received.keyed_digest, sent.keyed_digest, "and key it alike");
    assert!(sent.qemu.completed(), "{:?}", sent.qemu);
    assert_eq!(counting.source.qmp().status().await?, RunState::postmigrate);

    // The gate: the destination guest waits, paused, however long the ledger takes.
    assert_eq!(arrived.qemu().qmp().status().await?, RunState::paused);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(ticks(arrived.qemu().console()).is_empty(), "ran before resume: {:?}", tail(arrived.qemu().console()));

    let destination = arrived.resume().await?;
    assert_eq!(destination.qmp().status().await?, RunState::running);
    let first = wait_for_tick(destination.console(), 0, TICKS).await?;
    // No reboot: the counter goes on (a tick cut in half at the switchover may be lost).
    assert!(
        first > last_source_tick && first <= last_source_tick + 3,
        "source ended at {last_source_tick}, destination began at {first}"
    );
    wait_for_tick(destination.console(), first + 5, TICKS).await?;
    counting.source.quit().await?;
    destination.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "starts QEMU: cargo test -p vmledger-hypervisor -- --ignored"]
async fn a_running_guest_moves_unthrottled_and_keeps_counting() -> anyhow::Result<()> {
    let counting = given_a_counting_guest(128, Workload::dirtying(4, 16)).await?;
    let key = Some(DigestKey::new(*b"the migration's transfer key, 32"));
    let migrated = when_it_migrates(&counting, SendOptions { digest_key: key, ..Default::default() }).await?;
    assert_eq!(migrated.sent.keyed_digest.as_ref().map(String::len), Some(64));
    then_the_guest_goes_on_at_the_destination(counting, migrated).await
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "starts QEMU: cargo test -p vmledger-hypervisor -- --ignored"]
async fn a_rate_cap_holds_the_stream_to_the_link() -> anyhow::Result<()> {
    let counting = given_a_counting_guest(128, Workload::IDLE).await?;
    let migrated =
        when_it_migrates(&counting, SendOptions { rate_bytes_per_second: Some(WAN), ..Default::default() }).await?;
    let seconds = migrated.sent.elapsed_ms as f64 / 1e3;
    let rate = migrated.sent.bytes as f64 / seconds;
    // Over the whole stream, no faster than the cap (give or take the first bucket), and not
    // absurdly slower: the cap is what limits it.
    assert!(rate <= WAN * 1.05, "{:.1} Mbit/s over a 124.8 Mbit/s cap", rate * 8.0 / 1e6);
    assert!(rate >= WAN * 0.5, "{:.1} Mbit/s: something other than the cap held it back", rate * 8.0 / 1e6);
    assert!(migrated.sent.bytes > 4 << 20, "a booted guest's stream is more than 4 MiB: {}", migrated.sent.bytes);
    then_the_guest_goes_on_at_the_destination(counting, migrated).await
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "starts QEMU: cargo test -p vmledger-hypervisor -- --ignored"]
async fn a_postcopy_stream_ends_and_waits_at_the_gate_too() -> anyhow::Result<()> {
    let counting = given_a_counting_guest(128, Workload::dirtying(8, 16)).await?;
    // A link and a downtime limit that this guest's pre-copy cannot meet: only post-copy ends it.
    let send = SendOptions {
        postcopy: true,
        rate_bytes_per_second: Some(40e6),
        downtime_limit_ms: Some(10),
        ..Default::default()
    };
    let migrated = when_it_migrates(&counting, send).await?;
    assert!(migrated.sent.postcopy, "{:?}", migrated.sent.qemu);
    then_the_guest_goes_on_at_the_destination(counting, migrated).await
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "starts QEMU: cargo test -p vmledger-hypervisor -- --ignored"]
async fn a_flipped_byte_changes_the_hash_the_destination_is_discarded_and_the_source_resumes() -> anyhow::Result<()> {
    let counting = given_a_counting_guest(128, Workload::IDLE).await?;
    let corrupt = SendOptions { corrupt_byte_at: Some(3 << 20), ..Default::default() };
    let Migrated { sent, received, arrived, last_source_tick } = when_it_migrates(&counting, corrupt).await?;
    assert!(sent.bytes > 3 << 20);
    assert_eq!(received.bytes, sent.bytes);
    assert_ne!(received.hash, sent.hash, "one flipped byte must change the hash");
    // Whatever QEMU made of the flipped byte, the ledger would reject this stream: discard it.
    let pid = arrived.qemu().pid().expect("the destination QEMU runs");
    arrived.discard().await?;
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "the destination QEMU {pid} is still there");

    // The source, paused since the switchover, resumes where it stopped.
    let source = counting.source;
    assert_eq!(source.qmp().status().await?, RunState::postmigrate);
    source.qmp().cont().await?;
    assert_eq!(source.qmp().status().await?, RunState::running);
    wait_for_tick(source.console(), last_source_tick + 5, TICKS).await?;
    source.quit().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "starts QEMU: cargo test -p vmledger-hypervisor -- --ignored"]
async fn a_cut_link_leaves_a_truncated_stream_that_cannot_run_and_a_source_that_goes_on() -> anyhow::Result<()> {
    let counting = given_a_counting_guest(128, Workload::IDLE).await?;
    let destination = Qemu::start(&counting.config, Side::Destination).await?;
    let (source_link, destination_link) = linked(false).await?;
    let cut = Cut { inner: source_link, left: 2 << 20 };
    let send = SendOptions { timeout: MIGRATION, ..Default::default() };
    let receive = ReceiveOptions { postcopy: false, timeout: MIGRATION, ..Default::default() };
    let (sent, received) = tokio::join!(
        vmledger_hypervisor::send_live(counting.source.qmp(), cut, &send),
        vmledger_hypervisor::receive_live(destination_link, destination, &receive),
    );
    assert!(matches!(sent, Err(Error::Io { .. })), "{sent:?}");
    let (received, arrived) = received?;
    assert_eq!(received.end, StreamEnd::Truncated { expected: None });
    assert!(received.bytes < 2 << 20);
    assert!(matches!(arrived.resume().await, Err(Error::WrongState { .. })));

    // QEMU saw its migration fail; its guest never stopped counting.
    let source = counting.source;
    let stats = source.qmp().wait_for_migration(BOOT).await?;
    assert_eq!(stats.status, "failed");
    assert_eq!(source.qmp().status().await?, RunState::running);
    let now = last_tick(source.console()).unwrap_or(0);
    wait_for_tick(source.console(), now + 3, TICKS).await?;
    source.quit().await?;
    Ok(())
}
