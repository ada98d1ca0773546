// The peer of the sync benchmark: one company synced by a straightforward script on Procore's official
// JavaScript SDK (@procore/js-sdk), used the way its README shows: a client from sdk.oauth(token) with
// apiHostname and defaultCompanyId, `client.get({base, version, params, qs})`, lists read page by page with
// `page` and `per_page` (the endpoint's maximum) until the `Total` header is reached. The token comes from
// /oauth/token with client credentials (the SDK has no helper for that grant). A 429 waits for Retry-After
// and asks again, as Procore's rate-limit guide says.
//
// Records go to SQLite. Node 20 has no built-in SQLite module (node:sqlite arrived in 22.5) and the test
// tooling installs no native module, so the script drives the sqlite3 command-line shell over a pipe: one
// transaction per page, INSERT OR REPLACE keyed by (stream, project_id, id), the Procore JSON as the body.
//
// Environment: PEER_API (emulator base URL), PEER_CLIENT_ID, PEER_CLIENT_SECRET, PEER_COMPANY_ID, PEER_DB
// (SQLite file). Prints one JSON line: {"records", "requests", "rate_limited", "streams": [{stream,
// project_id, count}]}.
'use strict';

const { spawn } = require('node:child_process');
const sdk = require('@procore/js-sdk');

const api = process.env.PEER_API;
const companyId = Number(process.env.PEER_COMPANY_ID);
const dbPath = process.env.PEER_DB;
if (!api || !companyId || !dbPath || !process.env.PEER_CLIENT_ID || !process.env.PEER_CLIENT_SECRET) {
  console.error('peer_sync: set PEER_API, PEER_CLIENT_ID, PEER_CLIENT_SECRET, PEER_COMPANY_ID and PEER_DB');
  process.exit(2);
}

// The streams of the benchmark's scope, with the list endpoints of docs/emulator.md.
const COMPANY_STREAMS = [
  { stream: 'projects', base: '/projects', version: 'v1.1', qs: { company_id: companyId }, perPage: 300 },
  { stream: 'company_users', base: '/companies/{company_id}/users', version: 'v1.3', params: { company_id: companyId } },
  { stream: 'vendors', base: '/vendors', version: 'v1.0', qs: { company_id: companyId } },
  { stream: 'trades', base: '/companies/{company_id}/trades', version: 'v1.0', params: { company_id: companyId } },
];
const PROJECT_STREAMS = [
  { stream: 'cost_codes', base: '/cost_codes', byQuery: true },
  { stream: 'budget_detail_rows', base: '/budget_views/{view_id}/detail_rows', byQuery: true, budgetView: true },
  { stream: 'work_order_contracts', base: '/work_order_contracts', byQuery: true },
  { stream: 'purchase_order_contracts', base: '/purchase_order_contracts', byQuery: true },
  { stream: 'commitment_change_orders', base: '/projects/{project_id}/commitment_change_orders' },
  { stream: 'prime_contracts', base: '/prime_contracts', byQuery: true },
  { stream: 'prime_change_orders', base: '/projects/{project_id}/prime_change_orders' },
  { stream: 'change_events', base: '/change_events', version: 'v1.1', byQuery: true },
  { stream: 'direct_costs', base: '/projects/{project_id}/direct_costs', version: 'v1.1' },
  { stream: 'rfis', base: '/projects/{project_id}/rfis' },
  { stream: 'submittals', base: '/projects/{project_id}/submittals', version: 'v1.1' },
  // Without dates only today's logs come back; every status, not only approved ones.
  { stream: 'manpower_logs', base: '/projects/{project_id}/manpower_logs',
    qs: { start_date: '2000-01-01', end_date: '2100-01-01', 'filters[status]': 'all' } },
];
const MAX_PER_PAGE = 1000;

let requests = 0;
let rateLimited = 0;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function token() {
  requests++;
  const res = await fetch(api + '/oauth/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: process.env.PEER_CLIENT_ID,
      client_secret: process.env.PEER_CLIENT_SECRET,
    }),
  });
  if (res.status !== 200) throw new Error(`token: HTTP ${res.status}`);
  return (await res.json()).access_token;
}

// One GET through the SDK; waits out a 429 and asks again.
async function get(client, request) {
  for (;;) {
    requests++;
    let result;
    try {
      result = await client.get(request);
    } catch (err) {
      // The SDK throws on non-2xx answers; the error carries the response.
      const status = err && err.response ? err.response.status : 0;
      if (status !== 429) throw err;
      rateLimited++;
      const after = Number(err.response.headers.get('Retry-After')) || 1;
      await sleep(after * 1000);
      continue;
    }
    if (result.response.status === 429) {
      rateLimited++;
      await sleep((Number(result.response.headers.get('Retry-After')) || 1) * 1000);
      continue;
    }
    return result;
  }
}

// Every page of one list, `per_page` at the maximum, until Total.
async function readAll(client, spec, onPage) {
  const perPage = spec.perPage || MAX_PER_PAGE;
  let read = 0;
  for (let page = 1; ; page++) {
    const { body, response } = await get(client, {
      base: spec.base,
      version: spec.version || 'v1.0',
      params: spec.params || {},
      qs: { ...(spec.qs || {}), page, per_page: perPage },
    });
    await onPage(body);
    read += body.length;
    const total = Number(response.headers.get('Total'));
    if (body.length < perPage || !(read < total)) return read;
  }
}

// The sqlite3 shell, fed one transaction per page.
function openDatabase(path) {
  const shell = spawn('sqlite3', ['-batch', path], { stdio: ['pipe', 'inherit', 'inherit'] });
  const closed = new Promise((resolve, reject) => {
    shell.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sqlite3 exited with ${code}`))));
  });
  const write = (sql) =>
    new Promise((resolve) => {
      if (shell.stdin.write(sql)) resolve();
      else shell.stdin.once('drain', resolve);
    });
  const quote = (text) => "'" + text.replace(/'/g, "''") + "'";
  return {
    init: () =>
      write(
        'PRAGMA journal_mode=WAL;\nPRAGMA synchronous=NORMAL;\n' +
          'CREATE TABLE IF NOT EXISTS records (stream TEXT NOT NULL, project_id INTEGER NOT NULL, ' +
          'id INTEGER NOT NULL, updated_at TEXT, body TEXT NOT NULL, PRIMARY KEY (stream, project_id, id));\n'),
    insertPage: (stream, projectId, rows) => {
      if (rows.length === 0) return Promise.resolve();
      const values = rows.map(
        (r) => `(${quote(stream)},${projectId},${r.id},${r.updated_at ? quote(r.updated_at) : 'NULL'},` +
          `${quote(JSON.stringify(r))})`);
      return write(`BEGIN;\nINSERT OR REPLACE INTO records VALUES ${values.join(',')};\nCOMMIT;\n`);
    },
    close: () => {
      shell.stdin.end();
      return closed;
    },
  };
}

async function main() {
  const client = sdk.client(sdk.oauth(await token()), {}, { apiHostname: api, defaultCompanyId: companyId });
  const db = openDatabase(dbPath);
  await db.init();
  const streams = [];
  let projects = [];
  for (const spec of COMPANY_STREAMS) {
    const count = await readAll(client, spec, async (rows) => {
      if (spec.stream === 'projects') projects = projects.concat(rows.map((p) => p.id));
      await db.insertPage(spec.stream, 0, rows);
    });
    streams.push({ stream: spec.stream, project_id: null, count });
  }
  for (const projectId of projects) {
    for (const s of PROJECT_STREAMS) {
      const spec = { ...s, params: { project_id: projectId }, qs: { ...(s.qs || {}) } };
      if (s.byQuery) spec.qs.project_id = projectId;
      if (s.budgetView) {
        const views = await get(client, { base: '/budget_views', version: 'v1.0', qs: { project_id: projectId } });
        if (views.body.length === 0) {
          streams.push({ stream: s.stream, project_id: projectId, count: 0 });
          continue;
        }
        spec.params.view_id = views.body[0].id;
      }
      const count = await readAll(client, spec, (rows) => db.insertPage(s.stream, projectId, rows));
      streams.push({ stream: s.stream, project_id: projectId, count });
    }
  }
  await db.close();
  const records = streams.reduce((sum, s) => sum + s.count, 0);
  process.stdout.write(JSON.stringify({ records, requests, rate_limited: rateLimited, streams }) + '\n');
}

main().catch((err) => {
  console.error('peer_sync:', err && err.stack ? err.stack : err);
  process.exit(1);
});
