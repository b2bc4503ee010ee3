//! The link's HTTP upgrade, without QEMU.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vmledger_hypervisor::Error;
use vmledger_hypervisor::link::{self, Offer};

use crate::support::{TOKEN, linked};

#[tokio::test]
async fn an_upgraded_link_carries_bytes_both_ways() -> anyhow::Result<()> {
    let (mut source, mut destination) = linked(false).await?;
    source.write_all(b"stream").await?;
    let mut got = [0u8; 6];
    destination.read_exact(&mut got).await?;
    assert_eq!(&got, b"stream");
    destination.write_all(b"back").await?;
    let mut back = [0u8; 4];
    source.read_exact(&mut back).await?;
    assert_eq!(&back, b"back");
    Ok(())
}

#[tokio::test]
async fn a_wrong_token_is_refused_before_any_byte_of_the_stream() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let server = tokio::spawn(async move { link::accept_one(&listener, TOKEN).await });
    let offer = Offer { migration_id: "m-1".to_owned(), postcopy: false };
    match link::connect(&url, &offer, "guessed").await {
        Err(Error::Refused { status: 401, .. }) => {}
        other => panic!("expected a 401 refusal, got {other:?}"),
    }
    // The destination is still waiting for a rightful source.
    assert!(!server.is_finished());
    server.abort();
    Ok(())
}
