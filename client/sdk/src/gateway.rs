//! Fabric's vocabulary over the REST proxy: a [`Gateway`] (one proxy, one API key) gives a
//! [`Network`] (a channel), which gives a [`Contract`] (a chaincode), whose calls are
//! [`Contract::evaluate`], [`Contract::submit`] and [`Contract::submit_async`].
//!
//! Per-step timeouts are options of the [`GatewayBuilder`]. Retries happen only where repeating the
//! call cannot do anything twice (see [`RetryPolicy`] and [`Error::is_safe_to_retry`]), with
//! exponential backoff and jitter (the `backon` crate), waiting at least as long as a 429's
//! `Retry-After` asks.

use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use reqwest::{Response, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Problem, Result, Step};

/// Time the proxy spent in each step of a submitted transaction, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    #[serde(default)]
    pub endorse_ms: u64,
    #[serde(default)]
    pub submit_ms: u64,
    #[serde(default)]
    pub commit_ms: u64,
    #[serde(default)]
    pub total_ms: u64,
}

/// A committed, valid transaction: where it landed and what the contract answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Committed<T = serde_json::Value> {
    pub tx_id: String,
    pub block_number: u64,
    pub validation_code: String,
    pub result: T,
    pub timings: Timings,
    /// Wall-clock time of the whole call as the client saw it, HTTP included.
    #[serde(default)]
    pub client_ms: u64,
    /// How many times the call was endorsed (1 unless a stale read set forced a retry).
    #[serde(default = "one")]
    pub attempts: u32,
}

fn one() -> u32 {
    1
}

impl<T> Committed<T> {
    /// The same outcome with the result mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Committed<U> {
        Committed {
            tx_id: self.tx_id,
            block_number: self.block_number,
            validation_code: self.validation_code,
            result: f(self.result),
            timings: self.timings,
            client_ms: self.client_ms,
            attempts: self.attempts,
        }
    }
}

/// When to repeat a call that failed in a way that is safe to repeat: exponential backoff from
/// `initial_backoff` to `max_backoff`, with random jitter so that clients that failed together do
/// not retry together. A 429 with `Retry-After` is waited out (at least that long), unless it asks
/// for more than `max_retry_after`: then the error is returned at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// The longest `Retry-After` waited for.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        RetryPolicy { max_attempts: 1, ..RetryPolicy::default() }
    }

    /// The backoff schedule (with jitter) of this policy.
    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_max_times(self.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
    }

    /// How long to wait before the next attempt after `error`, given the backoff's next delay
    /// (`None` once the attempts are used up): the longer of the two, or `None` to give up.
    fn wait(&self, error: &Error, backoff: Option<Duration>) -> Option<Duration> {
        let backoff = backoff?;
        match error.retry_after() {
            Some(asked) if asked > self.max_retry_after => None,
            Some(asked) => Some(asked.max(backoff)),
            None => Some(backoff),
        }
    }
}

/// Client-side deadlines of each step. The proxy has its own (its `limits`); these bound how long the
/// client waits for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub evaluate: Duration,
    pub endorse: Duration,
    pub submit: Duration,
    pub commit_status: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            evaluate: Duration::from_secs(10),
            endorse: Duration::from_secs(20),
            submit: Duration::from_secs(10),
            commit_status: Duration::from_secs(65),
        }
    }
}

/// Builds a [`Gateway`]: the proxy's base URL, the API key and the options.
#[derive(Debug, Clone)]
pub struct GatewayBuilder {
    url: String,
    api_key: Option<String>,
    timeouts: Timeouts,
    retry: RetryPolicy,
    poll_interval: Duration,
}

impl GatewayBuilder {
    /// The API key sent as `X-API-Key`.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    pub fn evaluate_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.evaluate = timeout;
        self
    }

    pub fn endorse_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.endorse = timeout;
        self
    }

    pub fn submit_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.submit = timeout;
        self
    }

    pub fn commit_status_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.commit_status = timeout;
        self
    }

    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How often [`Pending::wait`] asks for the commit status (it backs off up to 8 times this).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// # Errors
    /// [`Error::Protocol`] when the URL is not an absolute http(s) URL or the HTTP client cannot start.
    pub fn connect(self) -> Result<Gateway> {
        let url = self.url.trim_end_matches('/').to_owned();
        let parsed = reqwest::Url::parse(&url).map_err(|e| Error::Protocol {
            step: Step::Info,
            reason: format!("bad proxy URL `{url}`: {e}"),
            tx_id: None,
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Protocol {
                step: Step::Info,
                reason: format!("bad proxy URL `{url}`: not http(s)"),
                tx_id: None,
            });
        }
        let mut headers = header::HeaderMap::new();
        if let Some(key) = &self.api_key {
            let mut value = header::HeaderValue::from_str(key).map_err(|_| Error::Protocol {
                step: Step::Info,
                reason: "the API key is not a valid header value".into(),
                tx_id: None,
            })?;
            value.set_sensitive(true);
            headers.insert("x-api-key", value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(self.timeouts.connect)
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Protocol { step: Step::Info, reason: format!("HTTP client: {e}"), tx_id: None })?;
        Ok(Gateway { http, url, timeouts: self.timeouts, retry: self.retry, poll_interval: self.poll_interval })
    }
}

/// A connection to one member's gateway REST proxy, acting as the identity its API key selects.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub struct Gateway {
    http: reqwest::Client,
    url: String,
    timeouts: Timeouts,
    retry: RetryPolicy,
    poll_interval: Duration,
}

impl Gateway {
    /// Starts building a gateway for the proxy at `url` (e.g. `http://127.0.0.1:7101`).
    pub fn builder(url: impl Into<String>) -> GatewayBuilder {
        GatewayBuilder {
            url: url.into(),
            api_key: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            poll_interval: Duration::from_millis(25),
        }
    }

    /// The proxy's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The channel `name`.
    pub fn network(&self, name: impl Into<String>) -> Network {
        Network { gateway: self.clone(), name: name.into() }
    }

    /// Whether the proxy is ready: its peer reachable and the chaincode answering (`GET /readyz`).
    ///
    /// # Errors
    /// [`Error::Unreachable`], or [`Error::Network`] with the proxy's reason when it is not ready.
    pub async fn ready(&self) -> Result<()> {
        let response =
            self.send(Step::Info, None, self.timeouts.evaluate, self.http.get(format!("{}/readyz", self.url))).await?;
        expect_ok(Step::Info, None, response).await.map(drop)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Sends a request with a deadline, mapping transport failures.
    pub(crate) async fn send(
        &self,
        step: Step,
        tx_id: Option<&str>,
        timeout: Duration,
        request: reqwest::RequestBuilder,
    ) -> Result<Response> {
        request.timeout(timeout).send().await.map_err(|e| self.transport(step, tx_id, timeout, e))
    }

    pub(crate) fn transport(&self, step: Step, tx_id: Option<&str>, timeout: Duration, e: reqwest::Error) -> Error {
        let tx_id = tx_id.map(str::to_owned);
        if e.is_timeout() {
            Error::Timeout { step, after_ms: millis(timeout), tx_id }
        } else {
            Error::Unreachable { step, url: self.url.clone(), tx_id, source: e }
        }
    }

    async fn with_retries<T, F, Fut>(&self, mut call: F) -> Result<(T, u32)>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let policy = self.retry;
        let attempts = std::sync::atomic::AtomicU32::new(0);
        let value = (|| {
            attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            call()
        })
        .retry(policy.backoff().build())
        .sleep(tokio::time::sleep)
        .when(Error::is_safe_to_retry)
        .adjust(|error, backoff| policy.wait(error, backoff))
        .await?;
        Ok((value, attempts.into_inner()))
    }
}

/// A channel, reached through the gateway.
#[derive(Debug, Clone)]
pub struct Network {
    gateway: Gateway,
    name: String,
}

/// The channel's height and block hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainInfo {
    pub height: u64,
    #[serde(default)]
    pub current_block_hash: String,
    #[serde(default)]
    pub previous_block_hash: String,
}

impl Network {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The chaincode `name` on this channel.
    pub fn contract(&self, name: impl Into<String>) -> Contract {
        Contract { network: self.clone(), name: name.into() }
    }

    /// The channel's height (`GET /channels/{channel}/info`).
    ///
    /// # Errors
    /// Transport and proxy errors at [`Step::Info`].
    pub async fn info(&self) -> Result<ChainInfo> {
        let gw = &self.gateway;
        let url = format!("{}/channels/{}/info", gw.url, path(&self.name));
        let response = gw.send(Step::Info, None, gw.timeouts.evaluate, gw.http.get(url)).await?;
        let body = expect_ok(Step::Info, None, response).await?;
        decode_body(Step::Info, None, &body)
    }

    /// The status of an asynchronous submission, as this proxy recorded it.
    ///
    /// # Errors
    /// [`Error::Proxy`] (404) when this proxy does not know the transaction; transport errors.
    pub async fn transaction_status(&self, tx_id: &str) -> Result<TxStatus> {
        let gw = &self.gateway;
        let url = format!("{}/channels/{}/transactions/{}", gw.url, path(&self.name), path(tx_id));
        let response = gw.send(Step::CommitStatus, Some(tx_id), gw.timeouts.evaluate, gw.http.get(url)).await?;
        let body = expect_ok(Step::CommitStatus, Some(tx_id), response).await?;
        decode_body(Step::CommitStatus, Some(tx_id), &body)
    }
}

/// A chaincode on a channel: evaluate and submit its functions, each with one string argument.
#[derive(Debug, Clone)]
pub struct Contract {
    network: Network,
    name: String,
}

#[derive(Serialize)]
struct Args<'a> {
    args: [&'a str; 1],
    /// Transient data: reaches the endorsing peers, never the ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    transient: Option<&'a std::collections::BTreeMap<String, String>>,
}

#[derive(Deserialize)]
struct QueryAnswer {
    result: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Accepted {
    tx_id: String,
    #[serde(default)]
    status_url: Option<String>,
}

/// `pending`, `committed` or `failed`: an asynchronous submission as the proxy recorded it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxStatus {
    pub tx_id: String,
    pub status: TxState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_code: Option<String>,
    #[serde(default)]
    pub result: serde_json::Value,
    #[serde(default)]
    pub timings: Timings,
    /// The problem, when the commit failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Problem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TxState {
    Pending,
    Committed,
    Failed,
}

/// A transaction endorsed and accepted by the orderer, whose commit is still to come.
#[derive(Debug, Clone)]
pub struct Pending {
    network: Network,
    tx_id: String,
    /// Time from the call until the orderer accepted the transaction.
    pub accepted_ms: u64,
    started: Instant,
}

impl Pending {
    /// The transaction id (for `Migrate`, also the migration's id).
    pub fn tx_id(&self) -> &str {
        &self.tx_id
    }

    /// Waits for the commit status, polling the proxy with a growing interval.
    ///
    /// # Errors
    /// [`Error::Invalid`] when committed invalid; [`Error::Network`] at [`Step::CommitStatus`] when
    /// the status could not be had; [`Error::Timeout`] after the gateway's commit-status timeout.
    pub async fn wait(&self) -> Result<Committed> {
        let gw = &self.network.gateway;
        let deadline = Instant::now() + gw.timeouts.commit_status;
        let mut interval = gw.poll_interval;
        loop {
            let status = match self.network.transaction_status(&self.tx_id).await {
                Ok(status) => status,
                Err(e) if e.is_safe_to_retry() || matches!(e, Error::Unreachable { .. }) => {
                    if Instant::now() >= deadline {
                        return Err(e);
                    }
                    tokio::time::sleep(interval).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match status.status {
                TxState::Committed => {
                    return Ok(Committed {
                        tx_id: status.tx_id,
                        block_number: status.block_number.unwrap_or_default(),
                        validation_code: status.validation_code.unwrap_or_else(|| "VALID".into()),
                        result: status.result,
                        timings: status.timings,
                        client_ms: millis(self.started.elapsed()),
                        attempts: 1,
                    });
                }
                TxState::Failed => {
                    let mut problem = status.error.unwrap_or_default();
                    problem.tx_id.get_or_insert_with(|| self.tx_id.clone());
                    if let (Some(code), None) = (&status.validation_code, &problem.details.get("validationCode")) {
                        problem.code.clone_from(code);
                        problem.status = 409;
                    }
                    return Err(Error::from_problem(Step::CommitStatus, problem));
                }
                TxState::Pending => {}
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    step: Step::CommitStatus,
                    after_ms: millis(gw.timeouts.commit_status),
                    tx_id: Some(self.tx_id.clone()),
                });
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(gw.poll_interval * 8);
        }
    }
}

impl Contract {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    fn url(&self, kind: &str, function: &str) -> String {
        let gw = &self.network.gateway;
        format!(
            "{}/channels/{}/chaincodes/{}/{kind}/{}",
            gw.url,
            path(&self.network.name),
            path(&self.name),
            path(function)
        )
    }

    /// Evaluates `function` with one argument on this member's peer; nothing is written.
    /// Retries (with backoff) when the network is briefly unavailable.
    ///
    /// # Errors
    /// [`Error::Contract`] when the contract refuses; [`Error::Auth`]; [`Error::Network`],
    /// [`Error::Unreachable`] or [`Error::Timeout`] at [`Step::Evaluate`].
    pub async fn evaluate(&self, function: &str, argument: &str) -> Result<serde_json::Value> {
        let gw = &self.network.gateway;
        let url = self.url("queries", function);
        let (value, _) = gw
            .with_retries(|| async {
                let request = gw.http.post(&url).json(&Args { args: [argument], transient: None });
                let response = gw.send(Step::Evaluate, None, gw.timeouts.evaluate, request).await?;
                let body = expect_ok(Step::Evaluate, None, response).await?;
                decode_body::<QueryAnswer>(Step::Evaluate, None, &body).map(|a| a.result)
            })
            .await?;
        Ok(value)
    }

    /// Submits `function` with one argument and waits until it is committed. A transaction committed
    /// invalid because its read set went stale is endorsed again (a new transaction), per the
    /// gateway's [`RetryPolicy`]; nothing else is repeated.
    ///
    /// # Errors
    /// [`Error::Contract`] (nothing written); [`Error::Invalid`] with the validation code;
    /// [`Error::Auth`]; [`Error::Network`], [`Error::Unreachable`] or [`Error::Timeout`] (the
    /// transaction may or may not have committed: look it up by its id when one is given).
    pub async fn submit(&self, function: &str, argument: &str) -> Result<Committed> {
        self.submit_with_transient(function, argument, None).await
    }

    /// [`Contract::submit`] with transient data (name → text): it reaches the endorsing peers only
    /// (Fabric's gateway then endorses only on members of the private data collections written)
    /// and is never recorded on the ledger, unlike the argument.
    ///
    /// # Errors
    /// As [`Contract::submit`].
    pub async fn submit_with_transient(
        &self,
        function: &str,
        argument: &str,
        transient: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Result<Committed> {
        let gw = &self.network.gateway;
        let url = self.url("transactions", function);
        let timeout = gw.timeouts.endorse + gw.timeouts.submit + gw.timeouts.commit_status;
        let started = Instant::now();
        let (mut committed, attempts) = gw
            .with_retries(|| async {
                let request = gw.http.post(&url).json(&Args { args: [argument], transient });
                let response = gw.send(Step::Transaction, None, timeout, request).await?;
                let body = expect_ok(Step::Transaction, None, response).await?;
                decode_body::<Committed>(Step::Transaction, None, &body)
            })
            .await?;
        committed.client_ms = millis(started.elapsed());
        committed.attempts = attempts;
        Ok(committed)
    }

    /// Submits `function` and returns once the orderer has accepted it (HTTP 202); the commit is
    /// awaited with [`Pending::wait`]. Not retried: the caller decides once the outcome is known.
    ///
    /// # Errors
    /// [`Error::Contract`] (nothing written), [`Error::Auth`], [`Error::Network`],
    /// [`Error::Unreachable`], [`Error::Timeout`] while endorsing or submitting.
    pub async fn submit_async(&self, function: &str, argument: &str) -> Result<Pending> {
        let gw = &self.network.gateway;
        let started = Instant::now();
        let request = gw
            .http
            .post(self.url("transactions", function))
            .header(header::HeaderName::from_static("prefer"), "respond-async")
            .json(&Args { args: [argument], transient: None });
        let timeout = gw.timeouts.endorse + gw.timeouts.submit;
        let response = gw.send(Step::Transaction, None, timeout, request).await?;
        if response.status() != StatusCode::ACCEPTED {
            let status = response.status();
            let body = expect_ok(Step::Transaction, None, response).await?;
            return Err(Error::Protocol {
                step: Step::Submit,
                reason: format!("expected 202 Accepted, got {status}: {}", String::from_utf8_lossy(&body)),
                tx_id: None,
            });
        }
        let body = response.bytes().await.map_err(|e| gw.transport(Step::Submit, None, timeout, e))?;
        let accepted: Accepted = decode_body(Step::Submit, None, &body)?;
        let _ = accepted.status_url;
        Ok(Pending {
            network: self.network.clone(),
            tx_id: accepted.tx_id,
            accepted_ms: millis(started.elapsed()),
            started,
        })
    }
}

/// Reads a response: its body when 2xx, else the problem it carries, classified.
pub(crate) async fn expect_ok(step: Step, tx_id: Option<&str>, response: Response) -> Result<bytes::Bytes> {
    let status = response.status();
    let retry_after = response.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(retry_after);
    let body = response.bytes().await.map_err(|e| Error::Protocol {
        step,
        reason: format!("reading the answer: {e}"),
        tx_id: tx_id.map(str::to_owned),
    })?;
    if status.is_success() {
        return Ok(body);
    }
    let mut problem = serde_json::from_slice::<Problem>(&body).unwrap_or_else(|_| Problem {
        status: status.as_u16(),
        code: format!("HTTP_{}", status.as_u16()),
        detail: String::from_utf8_lossy(&body).chars().take(500).collect(),
        ..Problem::default()
    });
    if problem.status == 0 {
        problem.status = status.as_u16();
    }
    if problem.tx_id.is_none() {
        problem.tx_id = tx_id.map(str::to_owned);
    }
    problem.retry_after = retry_after;
    Err(Error::from_problem(step, problem))
}

/// A `Retry-After` value (RFC 9110): a number of seconds, or an HTTP date (`httpdate` parses it).
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

pub(crate) fn decode_body<T: serde::de::DeserializeOwned>(step: Step, tx_id: Option<&str>, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| Error::Protocol {
        step,
        reason: format!("{e} in {}", String::from_utf8_lossy(body).chars().take(300).collect::<String>()),
        tx_id: tx_id.map(str::to_owned),
    })
}

/// Percent-encodes one path segment.
fn path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whole milliseconds of a duration (saturating).
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttled(retry_after: Option<Duration>) -> Error {
        let problem = Problem { status: 429, code: "TOO_MANY_REQUESTS".into(), retry_after, ..Problem::default() };
        Error::Proxy { step: Step::Evaluate, problem: Box::new(problem) }
    }

    #[test]
    fn a_retry_after_longer_than_the_backoff_is_waited_out() {
        let policy = RetryPolicy::default();
        let backoff = Some(Duration::from_millis(50));
        assert_eq!(policy.wait(&throttled(Some(Duration::from_secs(2))), backoff), Some(Duration::from_secs(2)));
        assert_eq!(policy.wait(&throttled(None), backoff), backoff);
        assert_eq!(policy.wait(&throttled(Some(Duration::ZERO)), backoff), backoff, "never shorter than the backoff");
        assert_eq!(policy.wait(&throttled(Some(Duration::from_secs(3600))), backoff), None, "too long: give up");
        assert_eq!(policy.wait(&throttled(Some(Duration::from_secs(1))), None), None, "attempts used up");
    }

    #[test]
    fn the_backoff_has_jitter_and_stays_under_its_cap() {
        let policy = RetryPolicy {
            max_attempts: 40,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(400),
            ..RetryPolicy::default()
        };
        let schedules: Vec<Vec<Duration>> = (0..8).map(|_| policy.backoff().build().collect()).collect();
        assert!(schedules.iter().all(|s| s.len() == 39), "max_attempts - 1 retries");
        assert!(
            schedules.iter().flatten().all(|d| *d >= Duration::from_millis(50) && *d <= Duration::from_millis(800))
        );
        assert!(schedules.windows(2).any(|w| w[0] != w[1]), "jitter: schedules differ");
    }

    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after("Thu, 01 Jan 1970 00:00:00 GMT"), Some(Duration::ZERO), "in the past");
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        assert!(retry_after(&later).is_some_and(|d| d > Duration::from_secs(110) && d <= Duration::from_secs(120)));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path("Get Vm/x"), "Get%20Vm%2Fx");
        assert_eq!(path("federation"), "federation");
    }
}
