'use strict';
/**
 * The REST readers: resources over the contract's queries, for callers that want plain GETs.
 *
 *   GET /v1/clouds/{id}/usage?from=&to=     Usage (JSON, or CSV with Accept: text/csv)
 *   GET /v1/vms/{id}/history                VmHistory
 *   GET /v1/migrations?vmId=|cloudId=&from=&to=&pageSize=&bookmark=   ListMigrations, paged (Link: rel="next")
 *
 * Query parameters map one to one onto the function's input fields; unknown or repeated ones are refused
 * (400), everything else (required fields, timestamps, page sizes) the contract checks and refuses itself.
 */

const Negotiator = require('negotiator');
const { stringify } = require('csv-stringify/sync');
const { badRequest } = require('./errors');

/** The contract's queries behind the readers; start-up fails when the vocabulary lacks one. */
const FUNCTIONS = Object.freeze({ usage: 'Usage', history: 'VmHistory', migrations: 'ListMigrations' });

const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8; header=present';
const PAGE_SIZE_RE = /^[0-9]{1,9}$/;

/** @param {import('./vocabulary').Vocabulary} vocabulary */
function checkVocabulary(vocabulary) {
  for (const name of Object.values(FUNCTIONS)) {
    const fn = vocabulary.fn(name);
    if (!fn || fn.access !== 'evaluate') {
      throw new Error(`the contract's vocabulary has no query ${name}, which the REST readers call`);
    }
  }
}

/** The query parameters as an object; 400 for a name not in `allowed` or given twice. */
function queryParams(searchParams, allowed) {
  const params = {};
  for (const [name, value] of searchParams) {
    if (!allowed.includes(name)) {
      throw badRequest(`unknown query parameter "${name.slice(0, 64)}"`
        + (allowed.length > 0 ? ` (this resource takes ${allowed.join(', ')})` : ' (this resource takes none)'),
      { parameter: name.slice(0, 64) });
    }
    if (Object.hasOwn(params, name)) throw badRequest(`query parameter "${name}" given twice`, { parameter: name });
    params[name] = value;
  }
  return params;
}

/** `Usage` input: {cloudId, from, to}. */
function usageInput(cloudId, searchParams) {
  return { cloudId, ...queryParams(searchParams, ['from', 'to']) };
}

/** `VmHistory` input: {id}. */
function historyInput(id, searchParams) {
  queryParams(searchParams, []);
  return { id };
}

/** `ListMigrations` input: the parameters as they are, pageSize as a number. */
function migrationsInput(searchParams) {
  const input = queryParams(searchParams, ['vmId', 'cloudId', 'from', 'to', 'pageSize', 'bookmark']);
  if (input.pageSize !== undefined) {
    if (!PAGE_SIZE_RE.test(input.pageSize)) {
      throw badRequest(`pageSize must be a whole number, not ${JSON.stringify(input.pageSize.slice(0, 32))}`,
        { parameter: 'pageSize' });
    }
    input.pageSize = Number(input.pageSize);
  }
  return input;
}

/** The `Link` header value to the next page (same query, the page's bookmark), when there is one. */
function nextLink(url, page) {
  if (typeof page?.bookmark !== 'string' || page.bookmark.length === 0) return undefined;
  const next = new URLSearchParams(url.searchParams);
  next.set('bookmark', page.bookmark);
  return `<${url.pathname}?${next}>; rel="next"`;
}

/** True when the caller prefers CSV to JSON (Accept, with q-values; JSON when it has no preference). */
function wantsCsv(accept) {
  return new Negotiator({ headers: { accept } }).mediaType(['application/json', 'text/csv']) === 'text/csv';
}

const USAGE_COLUMNS = ['vm', 'operator', 'hours', 'cpu_core_hours', 'memory_gib_hours', 'network_mbps_hours',
  'io_mbps_hours', 'cost', 'currency'];

/** Micro-units as currency units with 6 decimals, exactly. */
function money(micro) {
  const value = BigInt(micro);
  return `${value / 1000000n}.${String(value % 1000000n).padStart(6, '0')}`;
}

const fixed = (x) => Number(x).toFixed(6);

/** A usage report as CSV: one line per VM, then a TOTAL line when the cloud set prices (as `vmledger usage`). */
function usageCsv(report) {
  const currency = report.currency ?? '';
  const rows = report.vms.map((vm) => [
    vm.vmId, vm.operatorCloudId, fixed(vm.durationMs / 3600000), fixed(vm.cpuCoreHours), fixed(vm.memoryGibHours),
    fixed(vm.networkMbpsHours), fixed(vm.ioMbpsHours), vm.cost === undefined ? '' : money(vm.cost), currency,
  ]);
  if (report.totalCost !== undefined) rows.push(['TOTAL', '', '', '', '', '', '', money(report.totalCost), currency]);
  return stringify(rows, { header: true, columns: USAGE_COLUMNS });
}

module.exports = {
  FUNCTIONS, CSV_CONTENT_TYPE, USAGE_COLUMNS, checkVocabulary, usageInput, historyInput, migrationsInput, nextLink,
  wantsCsv, usageCsv,
};
