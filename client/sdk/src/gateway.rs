//! Fabric's vocabulary over the REST proxy: a [`Gateway`] (one proxy, one API key) gives a
//! [`Network`] (a channel), which gives a [`Contract`] (a chaincode), whose calls are
//! [`Contract::evaluate`], [`Contract::submit`] and [`Contract::submit_async`].
//!
//! Per-step timeouts are options of the [`GatewayBuilder`]. Retries happen only where repeating the
//! call cannot do anything twice (see [`RetryPolicy`] and [`Error::is_safe_to_retry`]), with
//! exponential backoff and jitter (the `backon` crate), waiting at least as long as a 429's
//! `Retry-After` asks.
//!
//! Every write has an idempotency key, and so a transaction id known before anything is sent
//! ([`Contract::prepare`], [`crate::identity::tx_id`]). A write ends in one of three outcomes, never
//! confused: committed ([`Committed`]), refused (an error saying why; nothing applied), or unknown
//! ([`Error::UnknownOutcome`], carrying the id). Before answering unknown, the SDK resolves the
//! outcome itself: it looks the transaction up by id and sends it again with the same key, which
//! cannot apply it twice, until the gateway's resolve timeout.
//!
//! With a [`Signer`] (the member's own key), the SDK signs each proposal, transaction and
//! commit-status request itself, after checking it is the call it asked for; the proxy builds and
//! relays them and never sees the key.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use reqwest::{Response, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Problem, Result, Step};
use crate::identity::{self, Expected, Signer};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

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
    /// How long the SDK works at learning the outcome of a write whose answer it did not get (looking
    /// it up, sending it again with the same key) before it answers [`Error::UnknownOutcome`].
    pub resolve: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            evaluate: Duration::from_secs(10),
            endorse: Duration::from_secs(20),
            submit: Duration::from_secs(10),
            commit_status: Duration::from_secs(65),
            resolve: Duration::from_secs(90),
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
    signer: Option<Signer>,
}

impl GatewayBuilder {
    /// Sign with this member's own key: proposals, transactions and commit-status requests are
    /// signed here, and the proxy only relays them.
    pub fn signer(mut self, signer: Signer) -> Self {
        self.signer = Some(signer);
        self
    }

    /// How long to work at an outcome not seen (see [`Timeouts::resolve`]).
    pub fn resolve_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.resolve = timeout;
        self
    }

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
        let creator = std::sync::Arc::new(tokio::sync::OnceCell::new());
        let signer = self.signer.map(std::sync::Arc::new);
        if let Some(signer) = &signer {
            let _ = creator.set(signer.creator());
        }
        Ok(Gateway {
            http,
            url,
            timeouts: self.timeouts,
            retry: self.retry,
            poll_interval: self.poll_interval,
            signer,
            creator,
        })
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
    signer: Option<std::sync::Arc<Signer>>,
    /// The `creator` transaction ids are computed from: the signer's, or the API key's identity's
    /// (asked of the proxy once).
    creator: std::sync::Arc<tokio::sync::OnceCell<Vec<u8>>>,
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
            signer: None,
        }
    }

    /// Fabric's `creator` of this gateway's writes: the signer's identity, or the one the API key
    /// selects (`GET /v1/identity`, asked once).
    ///
    /// # Errors
    /// Transport and proxy errors at [`Step::Info`].
    pub async fn creator(&self) -> Result<Vec<u8>> {
        self.creator
            .get_or_try_init(|| async {
                let response = self
                    .send(Step::Info, None, self.timeouts.evaluate, self.http.get(format!("{}/v1/identity", self.url)))
                    .await?;
                let body = expect_ok(Step::Info, None, response).await?;
                let who: IdentityAnswer = decode_body(Step::Info, None, &body)?;
                BASE64.decode(who.creator.as_bytes()).map_err(|e| Error::Protocol {
                    step: Step::Info,
                    reason: format!("the identity's creator is not base64: {e}"),
                    tx_id: None,
                })
            })
            .await
            .cloned()
    }

    /// The member's own key, when this gateway signs for itself.
    pub fn signer(&self) -> Option<&Signer> {
        self.signer.as_deref()
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

#[derive(Deserialize)]
struct IdentityAnswer {
    creator: String,
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

    /// A transaction by id: the proxy's record of its submission, else the member's peer's copy
    /// (validation code, block, function, result); `None` when neither knows it (yet).
    ///
    /// # Errors
    /// Transport and proxy errors at [`Step::CommitStatus`].
    pub async fn lookup(&self, tx_id: &str) -> Result<Option<TxStatus>> {
        match self.transaction_status(tx_id).await {
            Ok(status) => Ok(Some(status)),
            Err(Error::Proxy { problem, .. }) if problem.status == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The status of a transaction (see [`Network::lookup`]).
    ///
    /// # Errors
    /// [`Error::Proxy`] (404) when neither the proxy nor the peer knows the transaction; transport errors.
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
    transient: Option<&'a BTreeMap<String, String>>,
}

/// A write's transient data (name → text): private values such as prices, so its `Debug` shows
/// the names only, never the values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Transient(BTreeMap<String, String>);

impl Transient {
    /// The data, or `None` when there is none (the body then has no `transient` member).
    fn sent(&self) -> Option<&BTreeMap<String, String>> {
        (!self.0.is_empty()).then_some(&self.0)
    }
}

impl std::fmt::Debug for Transient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
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
    /// `ledger` when read from the member's peer rather than the proxy's record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// From the ledger: the function called, who sent it, when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_msp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
}

impl TxStatus {
    /// The outcome this status settles, if it settles one: committed, or refused (committed
    /// invalid); `None` while pending or unknown.
    pub fn outcome(&self) -> Option<Result<Committed>> {
        match self.status {
            TxState::Committed => Some(Ok(Committed {
                tx_id: self.tx_id.clone(),
                block_number: self.block_number.unwrap_or_default(),
                validation_code: self.validation_code.clone().unwrap_or_else(|| "VALID".into()),
                result: self.result.clone(),
                timings: self.timings,
                client_ms: 0,
                attempts: 1,
            })),
            TxState::Failed => {
                let mut problem = self.error.clone().unwrap_or_default();
                problem.tx_id.get_or_insert_with(|| self.tx_id.clone());
                if let (Some(code), None) = (&self.validation_code, &problem.details.get("validationCode")) {
                    problem.code.clone_from(code);
                    problem.status = 409;
                }
                Some(Err(Error::from_problem(Step::CommitStatus, problem)))
            }
            TxState::Pending | TxState::Unknown => None,
        }
    }
}

/// What a proxy knows of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TxState {
    /// Sent, its commit awaited.
    Pending,
    /// Committed valid.
    Committed,
    /// Committed invalid (or its submission failed definitely).
    Failed,
    /// Sent, its commit status not seen by the proxy; a lookup on the ledger did not find it.
    Unknown,
}

/// A transaction endorsed and accepted by the orderer, whose commit is still to come.
#[derive(Debug, Clone)]
pub struct Pending {
    prepared: Prepared,
    /// Time from the call until the orderer accepted the transaction.
    pub accepted_ms: u64,
    started: Instant,
    /// Already known (the submission was answered by a lookup or a retry).
    settled: Option<Committed>,
}

impl Pending {
    /// The transaction id (for `Migrate`, also the migration's id).
    pub fn tx_id(&self) -> &str {
        &self.prepared.tx_id
    }

    /// Waits for the commit status, polling the proxy with a growing interval; when the proxy loses
    /// track of it (a restart) the SDK resolves it as [`Prepared::submit`] does.
    ///
    /// # Errors
    /// [`Error::Invalid`] when committed invalid; [`Error::UnknownOutcome`] when the outcome could not
    /// be seen within the gateway's commit-status and resolve timeouts.
    pub async fn wait(&self) -> Result<Committed> {
        if let Some(settled) = &self.settled {
            return Ok(settled.clone());
        }
        let network = &self.prepared.contract.network;
        let gw = &network.gateway;
        let deadline = Instant::now() + gw.timeouts.commit_status;
        let mut interval = gw.poll_interval;
        while Instant::now() < deadline {
            match network.lookup(&self.prepared.tx_id).await {
                Ok(Some(status)) => {
                    if let Some(outcome) = status.outcome() {
                        return outcome.map(|mut c| {
                            c.client_ms = millis(self.started.elapsed());
                            c
                        });
                    }
                    if status.status == TxState::Unknown {
                        break;
                    }
                }
                // Not known (a restarted proxy, not on the peer yet), or the proxy is away: keep asking.
                Ok(None) => {}
                Err(e) if e.is_safe_to_retry() || matches!(e, Error::Unreachable { .. } | Error::Timeout { .. }) => {}
                Err(e) => return Err(e),
            }
            tokio::time::sleep(interval).await;
            interval = (interval * 2).min(gw.poll_interval * 8);
        }
        // Sending it again with its key is safe: the proxy answers the first outcome.
        let mut committed = self.prepared.resolve(&self.prepared.key, &self.prepared.tx_id).await?;
        committed.client_ms = millis(self.started.elapsed());
        Ok(committed)
    }
}

/// A write with its idempotency key and transaction id, known before anything is sent. Submitting it
/// again (also from another process, with the same key) is the same transaction: it never applies
/// twice.
#[derive(Debug, Clone)]
pub struct Prepared {
    contract: Contract,
    function: String,
    argument: String,
    transient: Transient,
    key: String,
    tx_id: String,
    creator: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OfflineProposal {
    proposal: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OfflineEndorsed {
    #[serde(default)]
    transaction: Option<String>,
    #[serde(default)]
    result: serde_json::Value,
    #[serde(default)]
    timings: Timings,
    #[serde(default)]
    committed: Option<Committed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OfflineSubmitted {
    commit: String,
    #[serde(default)]
    timings: Timings,
}

/// What one attempt at a submission may end in before it is resolved.
enum Attempt {
    Done(Result<Committed>),
    /// Refused for now, for a reason that passes (busy, endorsers unavailable): nothing was sent.
    Transient(Error),
    /// Maybe sent: look it up, or send it again with the same key.
    Unknown(Error),
}

impl Prepared {
    /// The transaction id this write has (for `Migrate`, the migration's id).
    pub fn tx_id(&self) -> &str {
        &self.tx_id
    }

    /// The idempotency key: submitting again with it (here or from elsewhere) is the same transaction.
    pub fn idempotency_key(&self) -> &str {
        &self.key
    }

    /// This write with transient data (name → text): it reaches the endorsing peers only (Fabric's
    /// gateway then endorses only on members of the private data collections written) and is never
    /// recorded on the ledger, unlike the argument. The transaction id does not depend on it (it is
    /// the key's nonce and the creator's, as Fabric defines it); the proxy still refuses the same key
    /// sent again with other transient data (`IDEMPOTENCY_KEY_REUSED`).
    #[must_use]
    pub fn with_transient(mut self, transient: BTreeMap<String, String>) -> Self {
        self.transient = Transient(transient);
        self
    }

    /// Submits and waits until committed. A transaction committed invalid because its read set went
    /// stale is endorsed again as a new transaction (key `KEY/2`, `KEY/3`, … per the gateway's
    /// [`RetryPolicy`]); a busy proxy or unavailable endorsers are waited out; an answer that does not
    /// come is resolved by lookup and by sending again with the same key.
    ///
    /// # Errors
    /// Refused: [`Error::Contract`] (nothing written), [`Error::Invalid`] (committed invalid),
    /// [`Error::Auth`], [`Error::Proxy`], [`Error::Network`] at [`Step::Endorse`] (nothing sent).
    /// Unknown: [`Error::UnknownOutcome`] with the transaction id, when the outcome could not be seen
    /// within the gateway's resolve timeout.
    pub async fn submit(&self) -> Result<Committed> {
        let started = Instant::now();
        let policy = self.contract.network.gateway.retry;
        let mut attempt = 1;
        let (mut key, mut tx_id) = (self.key.clone(), self.tx_id.clone());
        loop {
            match self.resolve(&key, &tx_id).await {
                Err(Error::Invalid { ref validation_code, .. })
                    if attempt < policy.max_attempts && crate::error::is_retryable_validation_code(validation_code) =>
                {
                    // Nothing was written; the next attempt is a new transaction, with a key of its own
                    // that a retry of this whole call derives the same way.
                    attempt += 1;
                    key = format!("{}/{attempt}", self.key);
                    tx_id = identity::tx_id(&key, &self.creator);
                    tokio::time::sleep(policy.initial_backoff * attempt).await;
                }
                Ok(mut committed) => {
                    committed.client_ms = millis(started.elapsed());
                    committed.attempts = attempt;
                    return Ok(committed);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Submits and returns once the orderer accepted the transaction (HTTP 202); the commit is awaited
    /// with [`Pending::wait`]. When the acceptance is not seen, the outcome is resolved as
    /// [`Prepared::submit`] does (and the pending transaction is then already settled).
    ///
    /// # Errors
    /// As [`Prepared::submit`].
    pub async fn submit_async(&self) -> Result<Pending> {
        let started = Instant::now();
        if self.contract.network.gateway.signer.is_some() {
            // Offline signing has no asynchronous form: the client signs the commit-status request.
            let committed = self.submit().await?;
            return Ok(Pending {
                prepared: self.clone(),
                accepted_ms: committed.client_ms,
                started,
                settled: Some(committed),
            });
        }
        let gw = &self.contract.network.gateway;
        let policy = gw.retry;
        let mut transient = 0;
        loop {
            match self.send_async().await {
                Ok(()) => {
                    return Ok(Pending {
                        prepared: self.clone(),
                        accepted_ms: millis(started.elapsed()),
                        started,
                        settled: None,
                    });
                }
                Err(e) if e.outcome_unknown() => {
                    let committed = self.resolve(&self.key, &self.tx_id).await?;
                    return Ok(Pending {
                        prepared: self.clone(),
                        accepted_ms: millis(started.elapsed()),
                        started,
                        settled: Some(committed),
                    });
                }
                Err(e) if transient_refusal(&e) && transient + 1 < policy.max_attempts => {
                    transient += 1;
                    tokio::time::sleep(
                        policy
                            .wait(&e, Some(policy.initial_backoff * 2u32.pow(transient)))
                            .unwrap_or(policy.max_backoff),
                    )
                    .await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One transaction id's outcome: sent (again) with its key until it is committed, refused, or
    /// the resolve timeout passes.
    async fn resolve(&self, key: &str, tx_id: &str) -> Result<Committed> {
        let gw = &self.contract.network.gateway;
        let policy = gw.retry;
        let started = Instant::now();
        let deadline = started + gw.timeouts.resolve;
        let mut transient = 0;
        let mut wait = policy.initial_backoff;
        // Once an attempt may have reached the orderer, a later attempt's refusal says nothing of it:
        // only the ledger (or the deadline, as unknown) ends the resolution.
        let mut maybe_sent = false;
        loop {
            let error = match self.attempt(key, tx_id).await {
                Attempt::Done(Err(e)) if maybe_sent => {
                    return match self.contract.network.lookup(tx_id).await {
                        Ok(Some(status)) => status.outcome().unwrap_or(Err(e)),
                        _ => Err(e),
                    };
                }
                Attempt::Done(outcome) => return outcome,
                Attempt::Transient(e) if !maybe_sent => {
                    transient += 1;
                    if transient >= policy.max_attempts {
                        return Err(e);
                    }
                    e
                }
                Attempt::Transient(e) | Attempt::Unknown(e) => {
                    maybe_sent = true;
                    // Was it committed after all? Cheaper than endorsing again.
                    if let Ok(Some(status)) = self.contract.network.lookup(tx_id).await
                        && let Some(outcome) = status.outcome()
                    {
                        return outcome;
                    }
                    if Instant::now() >= deadline {
                        return Err(Error::UnknownOutcome {
                            tx_id: tx_id.to_owned(),
                            idempotency_key: key.to_owned(),
                            waited_ms: millis(started.elapsed()),
                            source: Box::new(e),
                        });
                    }
                    e
                }
            };
            let pause = policy.wait(&error, Some(wait)).unwrap_or(policy.max_backoff);
            tokio::time::sleep(pause).await;
            wait = (wait * 2).min(policy.max_backoff);
        }
    }

    /// One attempt, classified.
    async fn attempt(&self, key: &str, tx_id: &str) -> Attempt {
        let outcome = if self.contract.network.gateway.signer.is_some() {
            self.send_signed(key, tx_id).await
        } else {
            self.send(key).await
        };
        match outcome {
            Ok(committed) => Attempt::Done(Ok(committed)),
            Err(e) if e.outcome_unknown() => Attempt::Unknown(e),
            Err(e) if transient_refusal(&e) => Attempt::Transient(e),
            Err(e) => Attempt::Done(Err(e)),
        }
    }

    /// The proxy signs: `POST …/transactions/{fn}` with the key, waiting for the commit.
    async fn send(&self, key: &str) -> Result<Committed> {
        let gw = &self.contract.network.gateway;
        let timeout = gw.timeouts.endorse + gw.timeouts.submit + gw.timeouts.commit_status;
        let request = gw
            .http
            .post(self.contract.url("transactions", &self.function))
            .header("idempotency-key", key)
            .json(&Args { args: [&self.argument], transient: self.transient.sent() });
        let response = gw.send(Step::Transaction, Some(&self.tx_id), timeout, request).await?;
        let body = expect_ok(Step::Transaction, Some(&self.tx_id), response).await?;
        decode_body::<Committed>(Step::Transaction, Some(&self.tx_id), &body)
    }

    /// The proxy signs, answering at the orderer's acceptance (202).
    async fn send_async(&self) -> Result<()> {
        let gw = &self.contract.network.gateway;
        let request = gw
            .http
            .post(self.contract.url("transactions", &self.function))
            .header(header::HeaderName::from_static("prefer"), "respond-async")
            .header("idempotency-key", &self.key)
            .json(&Args { args: [&self.argument], transient: self.transient.sent() });
        let timeout = gw.timeouts.endorse + gw.timeouts.submit;
        let response = gw.send(Step::Transaction, Some(&self.tx_id), timeout, request).await?;
        if response.status() != StatusCode::ACCEPTED {
            let status = response.status();
            let body = expect_ok(Step::Transaction, Some(&self.tx_id), response).await?;
            return Err(Error::Protocol {
                step: Step::Submit,
                reason: format!("expected 202 Accepted, got {status}: {}", String::from_utf8_lossy(&body)),
                tx_id: Some(self.tx_id.clone()),
            });
        }
        let body = response.bytes().await.map_err(|e| gw.transport(Step::Submit, Some(&self.tx_id), timeout, e))?;
        let accepted: Accepted = decode_body(Step::Submit, Some(&self.tx_id), &body)?;
        let _ = accepted.status_url;
        if accepted.tx_id != self.tx_id {
            return Err(Error::Protocol {
                step: Step::Submit,
                reason: format!("the proxy named the transaction {}, not {}", accepted.tx_id, self.tx_id),
                tx_id: Some(self.tx_id.clone()),
            });
        }
        Ok(())
    }

    /// The member signs: proposal → endorsement → submission → commit status, each message read and
    /// checked before it is signed.
    async fn send_signed(&self, key: &str, tx_id: &str) -> Result<Committed> {
        let gw = &self.contract.network.gateway;
        let signer = gw.signer.as_deref().ok_or_else(|| Error::Protocol {
            step: Step::Endorse,
            reason: "no signer".into(),
            tx_id: Some(tx_id.to_owned()),
        })?;
        let network = &self.contract.network;
        let channel_url = format!("{}/channels/{}", gw.url, path(&network.name));
        let nonce = identity::nonce(key);
        let expected = Expected {
            tx_id,
            channel: &network.name,
            chaincode: &self.contract.name,
            function: &self.function,
            argument: &self.argument,
            transient: &self.transient.0,
            creator: &self.creator,
            nonce: &nonce,
        };
        let post = |step: Step, url: String, body: serde_json::Value, timeout: Duration| async move {
            let request = gw.http.post(url).header("idempotency-key", key).json(&body);
            let response = gw.send(step, Some(tx_id), timeout, request).await?;
            expect_ok(step, Some(tx_id), response).await
        };
        let bytes = |step: Step, text: &str| {
            BASE64.decode(text.as_bytes()).map_err(|e| Error::Protocol {
                step,
                reason: format!("not base64: {e}"),
                tx_id: Some(tx_id.to_owned()),
            })
        };
        let checked = |step: Step, r: std::result::Result<Vec<u8>, identity::Mismatch>| {
            r.map_err(|source| Error::Mismatch { step, source })
        };

        // 1. The proposal, built by the proxy for this identity, checked and signed here.
        let identity = serde_json::json!({
            "mspId": signer.msp_id(),
            "certificate": String::from_utf8_lossy(signer.certificate()),
        });
        let body = post(
            Step::Endorse,
            self.contract.url("proposals", &self.function),
            match self.transient.sent() {
                Some(transient) => {
                    serde_json::json!({"args": [self.argument], "transient": transient, "identity": identity})
                }
                None => serde_json::json!({"args": [self.argument], "identity": identity}),
            },
            gw.timeouts.evaluate,
        )
        .await?;
        let proposal =
            bytes(Step::Endorse, &decode_body::<OfflineProposal>(Step::Endorse, Some(tx_id), &body)?.proposal)?;
        let signature = signer.sign(&checked(Step::Endorse, identity::proposal_to_sign(&proposal, &expected))?)?;

        // 2. Endorsement: the transaction to sign (or, for a retry, its first outcome).
        let body = post(
            Step::Endorse,
            format!("{channel_url}/endorsements"),
            serde_json::json!({"proposal": BASE64.encode(&proposal), "signature": BASE64.encode(&signature)}),
            gw.timeouts.endorse,
        )
        .await?;
        let endorsed: OfflineEndorsed = decode_body(Step::Endorse, Some(tx_id), &body)?;
        if let Some(committed) = endorsed.committed {
            return Ok(committed);
        }
        let transaction = bytes(Step::Submit, endorsed.transaction.as_deref().unwrap_or_default())?;
        let signature = signer.sign(&checked(Step::Submit, identity::transaction_to_sign(&transaction, &expected))?)?;

        // 3. Submission: from here on the transaction may be with the orderer.
        let body = post(
            Step::Submit,
            format!("{channel_url}/submissions"),
            serde_json::json!({"transaction": BASE64.encode(&transaction), "signature": BASE64.encode(&signature)}),
            gw.timeouts.submit,
        )
        .await?;
        let submitted: OfflineSubmitted = decode_body(Step::Submit, Some(tx_id), &body)?;
        let commit = bytes(Step::CommitStatus, &submitted.commit)?;
        let signature = signer.sign(&checked(Step::CommitStatus, identity::commit_to_sign(&commit, &expected))?)?;

        // 4. The commit status.
        let body = post(
            Step::CommitStatus,
            format!("{channel_url}/commit-statuses"),
            serde_json::json!({"commit": BASE64.encode(&commit), "signature": BASE64.encode(&signature)}),
            gw.timeouts.commit_status,
        )
        .await?;
        let mut committed: Committed = decode_body(Step::CommitStatus, Some(tx_id), &body)?;
        committed.result = endorsed.result;
        committed.timings = Timings {
            endorse_ms: endorsed.timings.endorse_ms,
            submit_ms: submitted.timings.submit_ms,
            ..committed.timings
        };
        Ok(committed)
    }
}

/// A refusal that passes and left nothing sent: a busy proxy (429), endorsers unavailable or slow.
fn transient_refusal(e: &Error) -> bool {
    match e {
        Error::Proxy { problem, .. } => problem.status == 429,
        Error::Network { step: Step::Endorse, problem, .. } => problem.is_retryable(),
        _ => false,
    }
}

impl Contract {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn network(&self) -> &Network {
        &self.network
    }

    pub(crate) fn url(&self, kind: &str, function: &str) -> String {
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

    /// A write of `function` with one argument and a fresh idempotency key: its transaction id is
    /// known before anything is sent.
    ///
    /// # Errors
    /// Transport and proxy errors asking the proxy who the API key is (once per gateway, when the
    /// gateway has no signer of its own).
    pub async fn prepare(&self, function: &str, argument: &str) -> Result<Prepared> {
        self.prepare_with_key(function, argument, &identity::new_idempotency_key()).await
    }

    /// A write with the caller's idempotency key: the same key for the same call is the same
    /// transaction (submitting it again never applies it twice; a key already used for another call
    /// is refused with `IDEMPOTENCY_KEY_REUSED`).
    ///
    /// # Errors
    /// As [`Contract::prepare`].
    pub async fn prepare_with_key(&self, function: &str, argument: &str, key: &str) -> Result<Prepared> {
        let creator = self.network.gateway.creator().await?;
        Ok(Prepared {
            contract: self.clone(),
            function: function.to_owned(),
            argument: argument.to_owned(),
            transient: Transient::default(),
            tx_id: identity::tx_id(key, &creator),
            key: key.to_owned(),
            creator,
        })
    }

    /// Submits `function` with one argument and waits until it is committed (see [`Prepared::submit`]).
    ///
    /// # Errors
    /// As [`Prepared::submit`].
    pub async fn submit(&self, function: &str, argument: &str) -> Result<Committed> {
        self.prepare(function, argument).await?.submit().await
    }

    /// [`Contract::submit`] with transient data (name → text): see [`Prepared::with_transient`].
    ///
    /// # Errors
    /// As [`Prepared::submit`].
    pub async fn submit_with_transient(
        &self,
        function: &str,
        argument: &str,
        transient: BTreeMap<String, String>,
    ) -> Result<Committed> {
        self.prepare(function, argument).await?.with_transient(transient).submit().await
    }

    /// Submits `function` and returns once the orderer has accepted it (see [`Prepared::submit_async`]).
    ///
    /// # Errors
    /// As [`Prepared::submit`].
    pub async fn submit_async(&self, function: &str, argument: &str) -> Result<Pending> {
        self.prepare(function, argument).await?.submit_async().await
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
