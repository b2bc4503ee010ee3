//! The live stream's link between the source's vmledger and the destination's: an HTTP/1.1
//! request upgraded to a framed, two-way byte stream.
//!
//! Why HTTP, and then frames:
//! - The request is where the destination decides, before one byte of the VM arrives: which
//!   migration (`POST /migrations/{id}/live`), who asks (`Authorization: Bearer TOKEN`, compared in
//!   constant time), which mode (`Vmledger-Live-Mode: precopy|postcopy`). A refusal is an ordinary
//!   HTTP answer, so the destination agent serves it on the port and router it already has, beside
//!   its image uploads. The token matters more than for an image upload: the destination QEMU
//!   parses the stream as it arrives, before any hash is checked, so the link is the first line of
//!   defence against a stranger's stream (the ledger only decides whether the guest may run).
//!   The token crosses the network in clear text: put TLS in front until the agent speaks it.
//! - After `101 Switching Protocols` (`Upgrade: vmledger-live/1`) both sides speak frames: a
//!   4-byte big-endian length, one kind byte, the payload (tokio-util's length-delimited codec).
//!   Post-copy needs the way back: the destination QEMU asks for pages on the same connection.
//!   A plain body could not carry that, nor say where the stream ended: a stream that stops
//!   without an `END` frame is truncated, whatever the TCP connection did.
//!
//! Source → destination: `DATA` (bytes of QEMU's stream), then `END` (the byte count, sent only
//! after the source QEMU reported the migration completed) or `ABORT` (the reason).
//! Destination → source: `RETURN` (bytes of the destination QEMU's return path), then `RECEIVED`
//! (the byte count it received). Neither side tells the other its hash: the source records its hash
//! on the ledger without knowing what the destination computed, and the destination its own.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONNECTION, HOST, HeaderMap, HeaderValue, UPGRADE};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use subtle::ConstantTimeEq;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::LengthDelimitedCodec;

use crate::error::Error;

/// The protocol named in `Upgrade`.
pub const PROTOCOL: &str = "vmledger-live/1";
/// The header that carries the migration mode.
pub const MODE_HEADER: &str = "vmledger-live-mode";
/// The largest payload of one frame.
pub const MAX_PAYLOAD: usize = 1 << 20;

/// An open link: the upgraded connection, either side.
pub type Link = TokioIo<Upgraded>;

/// The request path of the live stream of `migration_id`.
pub fn live_path(migration_id: &str) -> String {
    format!("/migrations/{migration_id}/live")
}

fn migration_id_of(path: &str) -> Option<&str> {
    let id = path.strip_prefix("/migrations/")?.strip_suffix("/live")?;
    let valid =
        !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some(id)
}

/// What a source asks of a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    pub migration_id: String,
    /// Whether the source may switch to post-copy (the destination must enable it too).
    pub postcopy: bool,
}

impl Offer {
    fn mode(&self) -> &'static str {
        if self.postcopy { "postcopy" } else { "precopy" }
    }
}

/// Opens the live stream of `offer` to the destination at `url` (`http://HOST:PORT`), presenting
/// `token`.
///
/// # Errors
/// [`Error::Protocol`] for a URL that is not `http://HOST:PORT`; [`Error::Io`] when the
/// destination cannot be reached; [`Error::Refused`] with its answer when it does not upgrade.
pub async fn connect(url: &str, offer: &Offer, token: &str) -> Result<Link, Error> {
    let uri: Uri = url.parse().map_err(|_| Error::Protocol(format!("`{url}` is not a URL")))?;
    let (Some("http"), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(Error::Protocol(format!("`{url}` is not an http://HOST:PORT URL")));
    };
    let address = format!("{}:{}", authority.host(), authority.port_u16().unwrap_or(80));
    let tcp = TcpStream::connect(&address).await.map_err(Error::io(format!("connecting to {address}")))?;
    tcp.set_nodelay(true).map_err(Error::io("setting TCP_NODELAY"))?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.map_err(http(format!("HTTP to {url}")))?;
    tokio::spawn(connection.with_upgrades());
    let request = Request::post(live_path(&offer.migration_id))
        .header(HOST, authority.as_str())
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, PROTOCOL)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(MODE_HEADER, offer.mode())
        .body(Empty::<Bytes>::new())
        .map_err(|e| Error::Protocol(format!("building the request: {e}")))?;
    let response = sender.send_request(request).await.map_err(http(format!("POST to {url}")))?;
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        return Err(Error::Refused { status, body: String::from_utf8_lossy(&body).chars().take(500).collect() });
    }
    let upgraded = hyper::upgrade::on(response).await.map_err(http("upgrading the connection"))?;
    Ok(TokioIo::new(upgraded))
}

/// Why a destination did not take a live stream: the HTTP status and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: String,
}

impl Refusal {
    pub fn new(status: StatusCode, reason: impl Into<String>) -> Self {
        Refusal { status, reason: reason.into() }
    }

    /// A plain-text answer (the agent may prefer its problem documents).
    pub fn response(&self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.reason.clone())));
        *response.status_mut() = self.status;
        response
    }
}

/// Checks a request for a live stream at a destination that expects `token`. On success answers
/// the offer, the `101` response to send, and the upgrade to await once it is sent.
///
/// # Errors
/// A [`Refusal`]: as [`offer`], and 401 for a missing or wrong token.
pub fn accept<B>(request: &mut Request<B>, token: &str) -> Result<(Offer, Response<Empty<Bytes>>, OnUpgrade), Refusal> {
    let (offer, presented) = self::offer(request)?;
    let authorized = presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(token.as_bytes())));
    if !authorized {
        return Err(Refusal::new(StatusCode::UNAUTHORIZED, "missing or wrong bearer token"));
    }
    let (response, on_upgrade) = upgrade(request);
    Ok((offer, response, on_upgrade))
}

/// Reads a request for a live stream without deciding on its token: the offer and the bearer token
/// presented, if any. For a destination whose tokens are not fixed (the agent checks each one
/// against the migration's record on the ledger); it then answers with [`upgrade`].
///
/// # Errors
/// A [`Refusal`]: 404 for another path, 405 for another method, 426 without our `Upgrade`, 400 for
/// an unknown mode.
pub fn offer<B>(request: &Request<B>) -> Result<(Offer, Option<String>), Refusal> {
    let Some(migration_id) = migration_id_of(request.uri().path()) else {
        return Err(Refusal::new(StatusCode::NOT_FOUND, "not a live stream path"));
    };
    if request.method() != Method::POST {
        return Err(Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "a live stream is a POST"));
    }
    let headers = request.headers();
    if !has_token(headers, UPGRADE.as_str(), PROTOCOL) {
        return Err(Refusal::new(StatusCode::UPGRADE_REQUIRED, format!("upgrade to {PROTOCOL}")));
    }
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let postcopy = match headers.get(MODE_HEADER).map(HeaderValue::to_str) {
        None | Some(Ok("precopy")) => false,
        Some(Ok("postcopy")) => true,
        _ => return Err(Refusal::new(StatusCode::BAD_REQUEST, "the mode is precopy or postcopy")),
    };
    Ok((Offer { migration_id: migration_id.to_owned(), postcopy }, presented))
}

/// Takes a live stream request [`offer`] read: the `101` response to send, and the upgrade to await
/// once it is sent.
pub fn upgrade<B>(request: &mut Request<B>) -> (Response<Empty<Bytes>>, OnUpgrade) {
    let on_upgrade = hyper::upgrade::on(&mut *request);
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("upgrade"));
    response.headers_mut().insert(UPGRADE, HeaderValue::from_static(PROTOCOL));
    (response, on_upgrade)
}

/// Whether the comma-separated header `name` lists `token` (case-insensitively).
fn has_token(headers: &HeaderMap, name: &str, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Serves live stream requests on `listener` until one is accepted (others are refused), and
/// returns it: a destination without an agent (tests, measurements, a one-off migration).
///
/// # Errors
/// [`Error::Io`] when the listener fails; [`Error::Protocol`] when the upgrade breaks.
pub async fn accept_one(listener: &TcpListener, token: &str) -> Result<(Offer, Link, SocketAddr), Error> {
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::unbounded_channel::<(Offer, OnUpgrade, SocketAddr)>();
    loop {
        tokio::select! {
            connection = listener.accept() => {
                let (stream, peer) = connection.map_err(Error::io("accepting a live stream"))?;
                let _ = stream.set_nodelay(true);
                let token = token.to_owned();
                let accepted_tx = accepted_tx.clone();
                let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                    let answer = match accept(&mut request, &token) {
                        Ok((offer, response, on_upgrade)) => {
                            let _ = accepted_tx.send((offer, on_upgrade, peer));
                            response.map(|_| Full::new(Bytes::new()))
                        }
                        Err(refusal) => refusal.response(),
                    };
                    async move { Ok::<_, Infallible>(answer) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades(),
                );
            }
            Some((offer, on_upgrade, peer)) = accepted.recv() => {
                let upgraded = on_upgrade.await.map_err(http("upgrading the connection"))?;
                return Ok((offer, TokioIo::new(upgraded), peer));
            }
        }
    }
}

fn http(context: impl Into<String>) -> impl FnOnce(hyper::Error) -> Error {
    let context = context.into();
    move |e| Error::Io { context, source: std::io::Error::other(e) }
}

/// One frame of the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    /// Source → destination: bytes of the migration stream.
    Data(Bytes),
    /// Source → destination: the stream is complete, this many bytes.
    End { bytes: u64 },
    /// Source → destination: the source's migration failed; the stream is void.
    Abort { reason: String },
    /// Destination → source: bytes of the destination QEMU's return path.
    Return(Bytes),
    /// Destination → source: received this many bytes, the stream's end included.
    Received { bytes: u64 },
}

const DATA: u8 = 0x01;
const END: u8 = 0x02;
const ABORT: u8 = 0x03;
const RETURN: u8 = 0x11;
const RECEIVED: u8 = 0x12;

impl Frame {
    /// The codec both sides use: a 4-byte big-endian length, then kind and payload.
    pub(crate) fn codec() -> LengthDelimitedCodec {
        LengthDelimitedCodec::builder().length_field_length(4).max_frame_length(MAX_PAYLOAD + 1).new_codec()
    }

    pub(crate) fn encode(&self) -> Bytes {
        let (kind, payload): (u8, &[u8]) = match self {
            Frame::Data(bytes) => (DATA, bytes),
            Frame::Return(bytes) => (RETURN, bytes),
            Frame::Abort { reason } => (ABORT, reason.as_bytes()),
            Frame::End { bytes } => return counted(END, *bytes),
            Frame::Received { bytes } => return counted(RECEIVED, *bytes),
        };
        let mut out = BytesMut::with_capacity(1 + payload.len());
        out.put_u8(kind);
        out.put_slice(payload);
        out.freeze()
    }

    pub(crate) fn decode(mut frame: BytesMut) -> Result<Frame, Error> {
        if frame.is_empty() {
            return Err(Error::Protocol("an empty frame".to_owned()));
        }
        let kind = frame.get_u8();
        let count = |frame: &mut BytesMut| {
            if frame.len() == 8 {
                Ok(frame.get_u64())
            } else {
                Err(Error::Protocol(format!("frame {kind:#x}: not a count")))
            }
        };
        Ok(match kind {
            DATA => Frame::Data(frame.freeze()),
            RETURN => Frame::Return(frame.freeze()),
            END => Frame::End { bytes: count(&mut frame)? },
            RECEIVED => Frame::Received { bytes: count(&mut frame)? },
            ABORT => Frame::Abort { reason: String::from_utf8_lossy(&frame).into_owned() },
            other => return Err(Error::Protocol(format!("unknown frame kind {other:#x}"))),
        })
    }
}

fn counted(kind: u8, bytes: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(9);
    out.put_u8(kind);
    out.put_u64(bytes);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_frame_survives_the_round_trip() {
        for frame in [
            Frame::Data(Bytes::from_static(b"QEVM\0\0\0\x03")),
            Frame::Data(Bytes::new()),
            Frame::End { bytes: 1 << 40 },
            Frame::Abort { reason: "failed: cancelled".to_owned() },
            Frame::Return(Bytes::from_static(b"\0\x07")),
            Frame::Received { bytes: 0 },
        ] {
            assert_eq!(Frame::decode(BytesMut::from(&frame.encode()[..])).expect("decodes"), frame);
        }
        assert!(Frame::decode(BytesMut::from(&[0x7f, 1][..])).is_err());
        assert!(Frame::decode(BytesMut::from(&[END, 1, 2][..])).is_err());
        assert!(Frame::decode(BytesMut::new()).is_err());
    }

    #[test]
    fn only_the_live_path_of_a_plain_id_is_a_live_stream() {
        assert_eq!(migration_id_of(&live_path("3f9a_b-2")), Some("3f9a_b-2"));
        assert_eq!(migration_id_of("/migrations//live"), None);
        assert_eq!(migration_id_of("/migrations/a/b/live"), None);
        assert_eq!(migration_id_of("/migrations/a/image"), None);
    }

    fn request(token: Option<&str>, upgrade: &str, mode: Option<&str>) -> Request<Empty<Bytes>> {
        let mut builder = Request::post(live_path("m-1")).header(CONNECTION, "Upgrade").header(UPGRADE, upgrade);
        if let Some(token) = token {
            builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(mode) = mode {
            builder = builder.header(MODE_HEADER, mode);
        }
        builder.body(Empty::new()).expect("request")
    }

    #[test]
    fn a_destination_takes_only_an_authorised_upgrade_to_its_protocol() {
        let status = |mut r: Request<Empty<Bytes>>| accept(&mut r, "s3cret").map(|(o, ..)| o).map_err(|r| r.status);
        assert_eq!(
            status(request(Some("s3cret"), PROTOCOL, Some("postcopy"))),
            Ok(Offer { migration_id: "m-1".to_owned(), postcopy: true })
        );
        assert_eq!(status(request(Some("s3cret"), "websocket, vmledger-live/1", None)).map(|o| o.postcopy), Ok(false));
        assert_eq!(status(request(Some("s3cre"), PROTOCOL, None)), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(status(request(None, PROTOCOL, None)), Err(StatusCode::UNAUTHORIZED));
        assert_eq!(status(request(Some("s3cret"), "h2c", None)), Err(StatusCode::UPGRADE_REQUIRED));
        assert_eq!(status(request(Some("s3cret"), PROTOCOL, Some("fast"))), Err(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn an_offer_is_read_before_its_token_is_judged() {
        let read = |r: Request<Empty<Bytes>>| offer(&r).map(|(o, token)| (o.postcopy, token)).map_err(|r| r.status);
        assert_eq!(read(request(Some("k"), PROTOCOL, None)), Ok((false, Some("k".to_owned()))));
        assert_eq!(read(request(None, PROTOCOL, Some("postcopy"))), Ok((true, None)));
        assert_eq!(read(request(Some("k"), "h2c", None)), Err(StatusCode::UPGRADE_REQUIRED));
        let mut get = request(Some("k"), PROTOCOL, None);
        *get.method_mut() = Method::GET;
        assert_eq!(read(get), Err(StatusCode::METHOD_NOT_ALLOWED));
    }
}
