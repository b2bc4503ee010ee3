//! Scenario helpers: a counting guest, a link between two vmledgers, a live migration.

use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use vmledger_hypervisor::link::{self, Link, Offer};
use vmledger_hypervisor::{Arrived, LiveReceived, LiveSent, Qemu, QemuConfig, ReceiveOptions, SendOptions, Side};

use crate::guest::{Workload, last_tick, test_guest, wait_for_tick};

/// How long a guest may take to boot (TCG, with other tests beside it on two cores).
pub(crate) const BOOT: Duration = Duration::from_secs(120);
/// How long a running guest may take to show its next ticks (TCG; after a post-copy switchover
/// every page it touches first crosses the link; other tests share the two cores).
pub(crate) const TICKS: Duration = Duration::from_secs(90);
/// How long a small guest's migration may take in these tests.
pub(crate) const MIGRATION: Duration = Duration::from_secs(120);
pub(crate) const TOKEN: &str = "a-token-both-sides-know";

/// A source guest that has booted and counts.
pub(crate) struct Counting {
    pub source: Qemu,
    pub config: QemuConfig,
}

/// Given a guest of `memory_mib` running `workload`, booted and counting past tick 3.
pub(crate) async fn given_a_counting_guest(memory_mib: u32, workload: Workload) -> anyhow::Result<Counting> {
    let config = test_guest()?.config(memory_mib, workload);
    let source = Qemu::start(&config, Side::Source).await?;
    wait_for_tick(source.console(), 3, BOOT).await?;
    Ok(Counting { source, config })
}

/// A link between a source and a destination over TCP on loopback, through the HTTP upgrade.
pub(crate) async fn linked(postcopy: bool) -> anyhow::Result<(Link, Link)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let offer = Offer { migration_id: "m-live-1".to_owned(), postcopy };
    let (source, destination) = tokio::join!(link::connect(&url, &offer, TOKEN), link::accept_one(&listener, TOKEN));
    let (accepted, destination, _) = destination?;
    anyhow::ensure!(accepted == offer, "the destination saw {accepted:?}");
    Ok((source?, destination))
}

/// What a live migration left behind.
pub(crate) struct Migrated {
    pub sent: LiveSent,
    pub received: LiveReceived,
    pub arrived: Arrived,
    /// The last tick the source printed before its guest stopped.
    pub last_source_tick: u64,
}

/// When the counting guest migrates live to a new destination QEMU, through the link.
pub(crate) async fn when_it_migrates(counting: &Counting, send: SendOptions) -> anyhow::Result<Migrated> {
    let postcopy = send.postcopy;
    let destination = Qemu::start(&counting.config, Side::Destination).await?;
    let (source_link, destination_link) = linked(postcopy).await?;
    let receive = ReceiveOptions { postcopy, timeout: MIGRATION, digest_key: send.digest_key.clone() };
    let send = SendOptions { timeout: MIGRATION, ..send };
    let (sent, received) = tokio::join!(
        vmledger_hypervisor::send_live(counting.source.qmp(), source_link, &send),
        vmledger_hypervisor::receive_live(destination_link, destination, &receive),
    );
    let (received, arrived) = received.context("receiving")?;
    let sent = sent.context("sending")?;
    let last_source_tick = last_tick(counting.source.console()).context("the source never ticked")?;
    Ok(Migrated { sent, received, arrived, last_source_tick })
}

/// A link that breaks after `left` bytes were written into it, as a cut cable would.
pub(crate) struct Cut<L> {
    pub inner: L,
    pub left: u64,
}

impl<L: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Cut<L> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<L: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Cut<L> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        if self.left == 0 {
            return std::task::Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        let n = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let written = std::pin::Pin::new(&mut self.inner).poll_write(cx, &buf[..n]);
        if let std::task::Poll::Ready(Ok(k)) = written {
            self.left -= k as u64;
        }
        written
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
