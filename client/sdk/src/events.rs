//! The live feed of chaincode events (server-sent events from the proxy), with resumption: after a
//! broken connection the stream reconnects with `Last-Event-ID`, so no event is lost or repeated.

use std::collections::VecDeque;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde::{Deserialize, Serialize};
use vmledger_contract::model::Migration;
use vmledger_contract::vocabulary::ContractEvent;

use crate::error::{Error, Problem, Result, Step};
use crate::gateway::{Contract, expect_ok};

/// One chaincode event as the proxy delivers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChaincodeEvent {
    /// `"<blockNumber>:<index in block>"`: the position to resume after.
    #[serde(default)]
    pub id: String,
    pub block_number: u64,
    pub tx_id: String,
    pub event_name: String,
    pub payload: serde_json::Value,
}

impl ChaincodeEvent {
    /// The record carried by the event, typed by the contract's own event table; `None` for an
    /// event this contract does not emit (or a payload that does not decode as its type).
    pub fn decode(&self) -> Option<ContractEvent> {
        let payload = self.payload.to_string();
        ContractEvent::decode(&self.event_name, &payload).and_then(Result::ok)
    }

    /// The migration this event is about, for migration events.
    pub fn migration(&self) -> Option<Migration> {
        match self.decode()? {
            ContractEvent::MigrationIndicated(m)
            | ContractEvent::MigrationConfirmed(m)
            | ContractEvent::MigrationRejected(m)
            | ContractEvent::MigrationCancelled(m) => Some(m),
            _ => None,
        }
    }
}

/// Where a new event stream starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StartAt {
    /// Events of blocks committed from now on.
    #[default]
    Next,
    /// Every event from this block on.
    Block(u64),
    /// After this event id (as delivered in [`ChaincodeEvent::id`]).
    After(String),
}

/// One SSE message.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SseMessage {
    pub(crate) id: Option<String>,
    pub(crate) event: Option<String>,
    pub(crate) data: String,
}

/// Incremental parser of a `text/event-stream` body.
#[derive(Debug, Default)]
pub(crate) struct SseParser {
    buffer: Vec<u8>,
    current: SseMessage,
    has_data: bool,
}

impl SseParser {
    /// Feeds bytes; returns the messages completed by them.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<SseMessage> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n' || b == b'\r') {
            // A '\r' at the very end may be the first half of "\r\n": wait for more.
            if self.buffer[end] == b'\r' && end + 1 == self.buffer.len() {
                break;
            }
            let skip = if self.buffer[end] == b'\r' && self.buffer.get(end + 1) == Some(&b'\n') { 2 } else { 1 };
            let line: Vec<u8> = self.buffer.drain(..end + skip).take(end).collect();
            let line = String::from_utf8_lossy(&line);
            if line.is_empty() {
                if self.has_data || self.current.event.is_some() {
                    out.push(std::mem::take(&mut self.current));
                } else {
                    self.current = SseMessage::default();
                }
                self.has_data = false;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line.as_ref(), ""),
            };
            match field {
                "id" => self.current.id = Some(value.to_owned()),
                "event" => self.current.event = Some(value.to_owned()),
                "data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        out
    }
}

/// A live, resuming stream of the contract's events. Read it with [`EventStream::next`].
pub struct EventStream {
    contract: Contract,
    start: StartAt,
    last_id: Option<String>,
    body: Option<BoxStream<'static, reqwest::Result<bytes::Bytes>>>,
    parser: SseParser,
    ready: VecDeque<ChaincodeEvent>,
    failures: u32,
    max_reconnects: u32,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").field("start", &self.start).field("last_id", &self.last_id).finish()
    }
}

impl Contract {
    /// Opens the contract's event stream (`GET …/events`).
    pub fn events(&self, start: StartAt) -> EventStream {
        EventStream {
            contract: self.clone(),
            last_id: match &start {
                StartAt::After(id) => Some(id.clone()),
                _ => None,
            },
            start,
            body: None,
            parser: SseParser::default(),
            ready: VecDeque::new(),
            failures: 0,
            max_reconnects: 5,
        }
    }
}

impl EventStream {
    /// How many times in a row a broken connection is reopened before giving up (default 5).
    pub fn max_reconnects(mut self, n: u32) -> Self {
        self.max_reconnects = n;
        self
    }

    /// The next event; waits for it.
    ///
    /// # Errors
    /// [`Error::Auth`] or [`Error::Proxy`] when the stream is refused; [`Error::Unreachable`] once
    /// reconnecting failed `max_reconnects` times in a row; a problem the proxy sent in the stream.
    pub async fn next(&mut self) -> Result<ChaincodeEvent> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Ok(event);
            }
            let Some(body) = self.body.as_mut() else {
                self.open().await?;
                continue;
            };
            match body.next().await {
                Some(Ok(chunk)) => {
                    self.failures = 0;
                    for message in self.parser.push(&chunk) {
                        self.accept(message)?;
                    }
                }
                Some(Err(_)) | None => {
                    // The connection ended: resume after the last event seen.
                    self.body = None;
                    self.parser = SseParser::default();
                    self.failures += 1;
                    if self.failures > self.max_reconnects {
                        return Err(Error::Protocol {
                            step: Step::Events,
                            reason: format!("the event stream broke {} times in a row", self.failures),
                            tx_id: None,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(self.failures))).await;
                }
            }
        }
    }

    fn accept(&mut self, message: SseMessage) -> Result<()> {
        if message.event.as_deref() == Some("problem") {
            let problem: Problem = serde_json::from_str(&message.data).unwrap_or_else(|_| Problem {
                detail: message.data.clone(),
                code: "STREAM_PROBLEM".into(),
                status: 502,
                ..Problem::default()
            });
            self.body = None;
            return Err(Error::from_problem(Step::Events, problem));
        }
        if message.data.is_empty() {
            return Ok(());
        }
        let mut event: ChaincodeEvent = serde_json::from_str(&message.data).map_err(|e| Error::Protocol {
            step: Step::Events,
            reason: format!("undecodable event: {e}"),
            tx_id: None,
        })?;
        if let Some(id) = message.id {
            event.id.clone_from(&id);
            self.last_id = Some(id);
        }
        self.ready.push_back(event);
        Ok(())
    }

    async fn open(&mut self) -> Result<()> {
        let network = self.contract.network();
        let gw = network.gateway();
        let mut url = format!("{}/channels/{}/chaincodes/{}/events", gw.url(), network.name(), self.contract.name());
        let mut request = gw.http().get(&url).header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = &self.last_id {
            request = request.header("last-event-id", id);
        } else if let StartAt::Block(block) = self.start {
            url = format!("{url}?startBlock={block}");
            request = gw.http().get(&url).header(reqwest::header::ACCEPT, "text/event-stream");
        }
        let response = loop {
            match request.try_clone().map(|r| r.send()) {
                Some(send) => match send.await {
                    Ok(response) => break response,
                    Err(e) => {
                        self.failures += 1;
                        if self.failures > self.max_reconnects {
                            return Err(gw.transport(Step::Events, None, gw.timeouts().connect, e));
                        }
                        tokio::time::sleep(Duration::from_millis(200 * u64::from(self.failures))).await;
                    }
                },
                None => {
                    return Err(Error::Protocol {
                        step: Step::Events,
                        reason: "unclonable request".into(),
                        tx_id: None,
                    });
                }
            }
        };
        if !response.status().is_success() {
            expect_ok(Step::Events, None, response).await?;
            return Err(Error::Protocol { step: Step::Events, reason: "no event stream".into(), tx_id: None });
        }
        self.body = Some(response.bytes_stream().boxed());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_split_across_chunks_and_line_endings() {
        let mut p = SseParser::default();
        assert!(p.push(b"retry: 1000\n: hello\n\nid: 5:0\r\nevent: MigrationIndicated\r").is_empty());
        let out = p.push(b"\ndata: {\"a\":\ndata: 1}\n\n");
        assert_eq!(
            out,
            vec![SseMessage {
                id: Some("5:0".into()),
                event: Some("MigrationIndicated".into()),
                data: "{\"a\":\n1}".into()
            }]
        );
    }

    #[test]
    fn unknown_events_are_kept_raw() {
        let e = ChaincodeEvent {
            id: "1:0".into(),
            block_number: 1,
            tx_id: "t".into(),
            event_name: "Something".into(),
            payload: serde_json::json!({"x": 1}),
        };
        assert!(e.decode().is_none());
        assert!(e.migration().is_none());
    }
}
