//! A stand-in for the gateway REST proxy: an HTTP server on 127.0.0.1 whose answers each test
//! scripts, and which records what it was asked.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The transaction id of a write, as a proxy derives it from the `Idempotency-Key` header and the
    /// stand-in's identity.
    pub fn tx_id(&self) -> String {
        tx_id_of(self.header("idempotency-key").expect("a write carries an Idempotency-Key"))
    }

    /// The last path segment (a transaction id on the status route).
    pub fn last_segment(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }

    /// The contract function of a transactions/queries route.
    pub fn function(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or_default()
    }

    /// The one JSON argument of a contract call.
    pub fn argument(&self) -> serde_json::Value {
        let body: serde_json::Value = serde_json::from_str(&self.body).expect("JSON body");
        serde_json::from_str(body["args"][0].as_str().expect("one string arg")).expect("JSON argument")
    }
}

/// A scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub delay: Duration,
    /// Extra response headers (e.g. `retry-after`).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.to_string(),
            delay: Duration::ZERO,
            headers: vec![],
        }
    }

    pub fn problem(status: u16, body: serde_json::Value) -> Reply {
        Reply {
            status,
            content_type: "application/problem+json",
            body: body.to_string(),
            delay: Duration::ZERO,
            headers: vec![],
        }
    }

    pub fn text(status: u16, content_type: &'static str, body: &str) -> Reply {
        Reply { status, content_type, body: body.to_owned(), delay: Duration::ZERO, headers: vec![] }
    }

    /// The same reply with one more header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    pub fn after(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }

    /// A committed transaction's answer.
    pub fn committed(result: serde_json::Value) -> Reply {
        Reply::json(
            200,
            serde_json::json!({
                "txId": "a".repeat(64), "blockNumber": 7, "validationCode": "VALID", "result": result,
                "timings": {"endorseMs": 11, "submitMs": 2, "commitMs": 2003, "totalMs": 2016}
            }),
        )
    }

    /// A query's answer.
    pub fn result(result: serde_json::Value) -> Reply {
        Reply::json(200, serde_json::json!({ "result": result }))
    }
}

type Script = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// The route that says who the API key is.
const IDENTITY_PATH: &str = "/v1/identity";
/// The stand-in's identity: its MSP and certificate.
pub const MSP_ID: &str = "Org1MSP";
pub const CERTIFICATE: &str = "-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n";

/// Fabric's `creator` of the stand-in's identity (msp.SerializedIdentity).
pub fn creator() -> Vec<u8> {
    let mut out = vec![0x0a, MSP_ID.len() as u8];
    out.extend_from_slice(MSP_ID.as_bytes());
    out.extend_from_slice(&[0x12, CERTIFICATE.len() as u8]);
    out.extend_from_slice(CERTIFICATE.as_bytes());
    out
}

/// The transaction id of a write with idempotency key `key` by the stand-in's identity.
pub fn tx_id_of(key: &str) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(sha2::Sha256::digest(key.as_bytes()));
    hasher.update(creator());
    hex::encode(hasher.finalize())
}

fn identity_answer() -> String {
    use base64::Engine as _;
    serde_json::json!({
        "identity": "operator", "mspId": MSP_ID, "certificate": CERTIFICATE,
        "creator": base64::engine::general_purpose::STANDARD.encode(creator()),
    })
    .to_string()
}

/// The running stand-in. Dropping it stops nothing: each test's runtime ends with the test.
pub struct StandIn {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl StandIn {
    /// Starts a stand-in answering with `script(request, index of the request)`.
    pub async fn start(script: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address: SocketAddr = listener.local_addr().expect("address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let recorded = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (script, recorded) = (script.clone(), recorded.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (script, recorded) = (script.clone(), recorded.clone());
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            let seen = Seen {
                                method: parts.method.to_string(),
                                path: parts.uri.path().to_owned(),
                                query: parts.uri.query().map(str::to_owned),
                                headers: parts
                                    .headers
                                    .iter()
                                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                                    .collect(),
                                body: String::from_utf8_lossy(&body).into_owned(),
                            };
                            if seen.method == "GET" && seen.path == IDENTITY_PATH {
                                // Who the API key is: answered here (and not recorded), so that each
                                // test scripts only the calls it is about.
                                let mut response = Response::new(Full::new(Bytes::from(identity_answer())));
                                response.headers_mut().insert(
                                    hyper::header::CONTENT_TYPE,
                                    hyper::header::HeaderValue::from_static("application/json"),
                                );
                                return Ok::<_, Infallible>(response);
                            }
                            let index = {
                                let mut all = recorded.lock().expect("lock");
                                all.push(seen.clone());
                                all.len() - 1
                            };
                            let reply = script(&seen, index);
                            if !reply.delay.is_zero() {
                                tokio::time::sleep(reply.delay).await;
                            }
                            let mut response = Response::new(Full::new(Bytes::from(reply.body)));
                            *response.status_mut() = hyper::StatusCode::from_u16(reply.status).expect("status");
                            response.headers_mut().insert(
                                hyper::header::CONTENT_TYPE,
                                hyper::header::HeaderValue::from_static(reply.content_type),
                            );
                            for (name, value) in &reply.headers {
                                response.headers_mut().insert(
                                    hyper::header::HeaderName::from_static(name),
                                    hyper::header::HeaderValue::from_str(value).expect("header value"),
                                );
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        StandIn { url: format!("http://{address}"), seen }
    }

    /// A stand-in that answers the registry reads a migration's routing makes (`GetVm`: the sample
    /// VM on host-a1; `GetHost`: [`crate::sample::host`]) and `reply` to everything else.
    pub async fn routing_then(reply: Reply) -> StandIn {
        StandIn::start(move |seen, _| match seen.function() {
            "GetVm" => Reply::result(crate::sample::vm(seen.argument()["id"].as_str().unwrap_or("vm-1"))),
            "GetHost" => Reply::result(crate::sample::host(seen.argument()["id"].as_str().unwrap_or("host-b1"))),
            _ => reply.clone(),
        })
        .await
    }

    /// A stand-in that always answers `reply`.
    pub async fn always(reply: Reply) -> StandIn {
        StandIn::start(move |_, _| reply.clone()).await
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }
}

/// A URL where nothing listens.
pub fn nowhere() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
