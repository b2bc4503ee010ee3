'use strict';
/**
 * Server-sent events: message formatting and the resume position.
 *
 * Each chaincode event is one message whose id is "<blockNumber>:<index>", index being the event's
 * position among this chaincode's events in that block (Fabric delivers them in transaction order, so the
 * id is the same on every reconnect). Resuming after id "B:i" re-reads block B and skips its events up to
 * and including index i.
 */

const { badRequest } = require('./errors');

/** Suggested reconnect delay sent to clients, ms. */
const RETRY_MS = 1000;

/**
 * One SSE message. Multi-line data is split into several `data:` lines as the format requires.
 * @param {{id?: string, event?: string, data: string}} msg
 */
function formatMessage({ id, event, data }) {
  let out = '';
  if (id !== undefined) out += `id: ${oneLine(id)}\n`;
  if (event !== undefined) out += `event: ${oneLine(event)}\n`;
  for (const line of String(data).split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}

/** A comment line (keeps idle connections open through proxies). */
function formatComment(text) {
  return `: ${oneLine(text)}\n\n`;
}

function oneLine(s) {
  return String(s).replaceAll('\r', ' ').replaceAll('\n', ' ');
}

/** Decode a chaincode event payload: its JSON value if it parses, else the UTF-8 text. */
function decodePayload(bytes) {
  const text = Buffer.from(bytes ?? []).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The SSE message for a chaincode event.
 * @param {{blockNumber: bigint|number, transactionId: string, eventName: string, payload: Uint8Array}} event
 * @param {number} index the event's index among this chaincode's events in its block
 */
function chaincodeEventMessage(event, index) {
  const blockNumber = Number(event.blockNumber);
  return formatMessage({
    id: `${blockNumber}:${index}`,
    event: event.eventName,
    data: JSON.stringify({
      blockNumber,
      txId: event.transactionId,
      eventName: event.eventName,
      payload: decodePayload(event.payload),
    }),
  });
}

function parseBlockNumber(text, what) {
  if (typeof text !== 'string' || text.length === 0 || text.length > 20) {
    throw badRequest(`${what} must be a non-negative integer`);
  }
  for (const ch of text) {
    if (ch < '0' || ch > '9') throw badRequest(`${what} must be a non-negative integer`);
  }
  return BigInt(text);
}

/**
 * Where a stream starts, from the Last-Event-ID header (wins: it is the reconnect) or the startBlock query
 * parameter. Returns {startBlock?: bigint, skipThrough?: {block: bigint, index: number}}; neither means
 * "from the next block".
 * @param {string|undefined} lastEventId
 * @param {string|null|undefined} startBlock
 */
function resumePosition(lastEventId, startBlock) {
  if (lastEventId !== undefined && lastEventId !== '') {
    const colon = lastEventId.indexOf(':');
    if (colon < 0) throw badRequest('Last-Event-ID must be "<blockNumber>:<index>"');
    const block = parseBlockNumber(lastEventId.slice(0, colon), 'Last-Event-ID block number');
    const index = Number(parseBlockNumber(lastEventId.slice(colon + 1), 'Last-Event-ID index'));
    return { startBlock: block, skipThrough: { block, index } };
  }
  if (startBlock !== undefined && startBlock !== null) {
    return { startBlock: parseBlockNumber(startBlock, 'startBlock') };
  }
  return {};
}

/**
 * Numbers events within blocks and drops those already delivered before a reconnect.
 * @param {{block: bigint, index: number}} [skipThrough]
 */
function eventSequencer(skipThrough) {
  let block;
  let index = -1;
  return (event) => {
    const b = BigInt(event.blockNumber);
    if (b !== block) {
      block = b;
      index = 0;
    } else {
      index += 1;
    }
    const skip = skipThrough !== undefined && b === skipThrough.block && index <= skipThrough.index;
    return { index, skip };
  };
}

module.exports = {
  RETRY_MS,
  formatMessage,
  formatComment,
  decodePayload,
  chaincodeEventMessage,
  resumePosition,
  eventSequencer,
};
