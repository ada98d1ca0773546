// Procore's official JavaScript SDK (@procore/js-sdk), a client no one here wrote, lists projects and RFIs from
// the emulator: it starts build/bin/procore-emulator on port 0 and stops it at the end.
'use strict';

const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const { spawn } = require('node:child_process');
const sdk = require('@procore/js-sdk');

const binDir = process.env.KTRACK_BIN_DIR || path.join(__dirname, '..', '..', 'build', 'bin');

function startEmulator() {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(binDir, 'procore-emulator'), ['--listen', '127.0.0.1:0', '--preset', 'small', '--seed', '11'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const timer = setTimeout(() => reject(new Error('emulator did not start: ' + out)), 20000);
    child.stdout.on('data', (chunk) => {
      out += chunk.toString();
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, baseUrl: m[1] });
      }
    });
    child.on('exit', (code) => reject(new Error('emulator exited with ' + code)));
  });
}

async function control(baseUrl, method, route, body) {
  const res = await fetch(baseUrl + route, {
    method,
    headers: { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json();
  assert.ok(res.ok, `${method} ${route}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

test('the Procore JS SDK lists projects and RFIs from the emulator', async () => {
  const { child, baseUrl } = await startEmulator();
  try {
    const reset = await control(baseUrl, 'POST', '/_emulator/reset', { preset: 'small', seed: 11 });
    const company = reset.companies[0];
    const app = await control(baseUrl, 'POST', '/_emulator/apps', { name: 'JS SDK', kind: 'dmsa' });
    const tools = ['Admin', 'Directory', 'Budget', 'Commitments', 'Change Orders', 'Prime Contracts', 'Change Events',
      'Direct Costs', 'RFIs', 'Submittals', 'Daily Log'];
    const project = Object.fromEntries(tools.map((t) => [t, 'read_only']));
    await control(baseUrl, 'POST', `/_emulator/companies/${company.id}/installs`, {
      client_id: app.client_id,
      permissions: { company: { Admin: 'read_only', Directory: 'read_only' }, project },
      permitted_projects: 'all',
    });

    // The SDK has no client-credentials helper: the token comes from /oauth/token as Procore documents.
    const tokenRes = await fetch(baseUrl + '/oauth/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: app.client_id, client_secret: app.client_secret }),
    });
    assert.strictEqual(tokenRes.status, 200);
    const { access_token: accessToken } = await tokenRes.json();

    const client = sdk.client(sdk.oauth(accessToken), {}, { apiHostname: baseUrl, defaultCompanyId: company.id });

    const projects = await client.get({ base: '/projects', version: 'v1.1', qs: { company_id: company.id } });
    assert.strictEqual(projects.response.status, 200);
    assert.deepStrictEqual(projects.body.map((p) => p.id).sort(), [...company.project_ids].sort());
    assert.strictEqual(Number(projects.response.headers.get('Total')), company.project_ids.length);
    for (const p of projects.body) assert.strictEqual(typeof p.name, 'string');

    const projectId = company.project_ids[0];
    const firstPage = await client.get({ base: '/projects/{project_id}/rfis', params: { project_id: projectId }, qs: { per_page: 5 } });
    const total = Number(firstPage.response.headers.get('Total'));
    assert.ok(total > 0, 'the project has RFIs');
    const all = [...firstPage.body];
    for (let page = 2; all.length < total; page++) {
      const next = await client.get({ base: '/projects/{project_id}/rfis', params: { project_id: projectId }, qs: { per_page: 5, page } });
      assert.ok(next.body.length > 0);
      all.push(...next.body);
    }
    assert.strictEqual(new Set(all.map((r) => r.id)).size, total);
    for (const rfi of all) {
      assert.strictEqual(typeof rfi.subject, 'string');
      assert.match(rfi.updated_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }

    // The SDK rejects non-2xx answers: a tool without permission gives Procore's 403.
    await control(baseUrl, 'PUT', `/_emulator/projects/${projectId}/tools/RFIs`, { active: false });
    await assert.rejects(
      client.get({ base: '/projects/{project_id}/rfis', params: { project_id: projectId } }),
      (err) => err.response.status === 403);
  } finally {
    child.kill('SIGTERM');
  }
});
