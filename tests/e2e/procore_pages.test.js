// The Procore pages' rendering of states that are slow or awkward to reach against the emulator (several
// companies to pick from, a failing stream with its fix, webhook delivery health, a refused disconnect), with
// the JSON API answered in the browser from fixtures shaped as interfaces.md says. The real flow, against the
// real API and the emulator, is wizard.test.js; this file checks only what the pages make of the answers.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const h = require('./harness');

const ADMIN = { email: 'dana@harborpoint.test', password: 'site-visit-42' };
const MEMBER = { email: 'sam@harborpoint.test', password: 'punch-list-17' };

const company = { id: 4264807, name: 'Harbor Point Builders' };
// GET /'s warning when another KTrack client is connected to the same Procore company.
const elsewhere = {
  code: 'company_connected_elsewhere',
  message: 'Another KTrack client is connected to this Procore company too.',
  fix: `Check that ${company.name} (${company.id}) is this client's company. If it is not, click Change credentials and verify your own company's. If both KTrack clients should hold its data, nothing needs doing: each keeps its own copy, with a webhook of its own.`,
};
const projects = [
  { id: 101, name: 'Harbor Tower', project_number: 'HT-01', stage: 'Course of Construction', active: true, permitted: true, linked_ktrack_project_id: 7, ktrack_project_name: 'Harbor Tower', sync_status: 'paused',
    drift: { code: 'permissions_drift', message: 'The RFIs tool is turned off.', fix: 'In Procore, open Harbor Tower › Admin › Tools and turn RFIs on. KTrack resumes this project\'s sync by itself at its next check.' } },
  { id: 102, name: 'Pier 9 Retail', project_number: 'P9-02', stage: 'Pre-Construction', active: true, permitted: true, permission_checked: false, linked_ktrack_project_id: null },
  { id: 103, name: 'Zürich Haus', project_number: 'ZH-03', stage: 'Bidding', active: false, permitted: false, linked_ktrack_project_id: null },
  // Linked, then taken out of the app's permitted projects: Procore's list no longer has it, and its streams
  // stopped on Procore's refusal before the permission check (which samples a large company) reached it.
  { id: 104, name: 'Dockside Lofts', project_number: 'DL-04', stage: 'Course of Construction', active: true, listed: false, permitted: false,
    fix: 'In Procore, open Company Admin → App Management, select KTrack and add project \'Dockside Lofts\' to its permitted projects.',
    linked_ktrack_project_id: 11, ktrack_project_name: 'Dockside Lofts', sync_status: 'error',
    sync_error: { code: 'project_not_permitted', message: 'Procore project \'Dockside Lofts\' is not one of KTrack\'s permitted projects.',
      fix: 'In Procore, open Company Admin → App Management, select KTrack and add project \'Dockside Lofts\' to its permitted projects.', streams: 3 } },
  // Beyond the permission check's sample, but linked and synced: Procore lets KTrack read it.
  { id: 105, name: 'Quay Street Offices', project_number: 'QS-05', stage: 'Bidding', active: true, permitted: true, permission_checked: false,
    linked_ktrack_project_id: 12, ktrack_project_name: 'Quay Street Offices', sync_status: 'synced' },
];
const settings = { company_id: company.id, domains: ['directory', 'rfis', 'submittals'], auto_link_projects: false, reconcile_interval_s: 3600 };
const credentials = { client_id: 'a1b2c3d4e5f6', client_secret: '••••••••f00d', uses_marketplace_app: false, verified_at: '2026-03-02T10:15:00Z' };

function activeIntegration() {
  const now = new Date().toISOString();
  return {
    status: 'active', environment: 'production', company, settings, credentials,
    webhooks: {
      hook_id: 5501, destination_url: 'https://ktrack.example/webhooks/procore/k_9f2', api_version: 'v2.0', triggers: 12,
      failed_triggers: [], failing: 2, discarded: 1, health_checked_at: now,
      recent_deliveries: [{ event_id: 88, completed_at: now, resource_name: 'RFIs', event_type: 'update', outcome: 'success', response_status: 200 }],
    },
    permissions: permissionReport(),
    // The hour's requests used up: KTrack waits 20 minutes for Procore's hourly window to reset.
    api_usage: {
      requests_last_hour: 3598, hourly_limit: 3600, requests_in_spike_window: 0, spike_limit: 100,
      rate_limited_until: new Date(Date.now() + 20 * 60 * 1000).toISOString(), rate_limited_responses: 0, requests_waiting: 2,
    },
    streams: [],
    last_error: null,
  };
}

function permissionReport() {
  const notPermitted = (id, name, needed = true) => ['RFIs', 'Submittals'].map((tool) => ({ scope: 'project', project_id: id, project_name: name, tool, required: 'Read Only', actual: '',
    status: 'project_not_permitted', needed, fix: `In Procore, open Company Admin → App Management → KTrack → Permitted Projects, add '${name}'.` }));
  return { ok: false, projects_checked: 5, projects_total: 6, checked_at: new Date().toISOString(), checks: [
    { scope: 'company', project_id: null, tool: 'Admin', required: 'Read Only', actual: 'Admin', status: 'ok', fix: '' },
    { scope: 'company', project_id: null, tool: 'Directory', required: 'Read Only', actual: 'Read Only', status: 'ok', fix: '' },
    { scope: 'project', project_id: 101, project_name: 'Harbor Tower', tool: 'RFIs', required: 'Read Only', actual: 'Read Only', status: 'tool_disabled', fix: 'In Procore, open Harbor Tower › Admin › Tools and turn RFIs on.' },
    { scope: 'project', project_id: 101, project_name: 'Harbor Tower', tool: 'Submittals', required: 'Read Only', actual: 'Read Only', status: 'ok', fix: '' },
    { scope: 'project', project_id: 102, project_name: 'Pier 9 Retail', tool: 'RFIs', required: 'Read Only', actual: 'Read Only', status: 'ok', fix: '' },
    { scope: 'project', project_id: 102, project_name: 'Pier 9 Retail', tool: 'Submittals', required: 'Read Only', actual: 'None', status: 'missing', fix: 'In Procore, open Company Admin → App Management → KTrack → Permissions and set Submittals to Read Only for project \'Pier 9 Retail\'.' },
    ...notPermitted(104, 'Dockside Lofts'), ...notPermitted(105, 'Quay Street Offices'),
    // Left out of the permitted projects, and not linked (auto-link is off): shown, not a failure.
    ...notPermitted(106, 'Harbour Annex', false),
  ] };
}

const streams = () => [
  { stream: 'projects', project_id: null, status: 'synced', count: 3, procore_total: 3, last_synced_at: new Date().toISOString(), error: null },
  { stream: 'company_users', project_id: null, status: 'synced', count: 40, procore_total: 40, last_synced_at: new Date().toISOString(), error: null },
  { stream: 'rfis', project_id: 101, project_name: 'Harbor Tower', status: 'error', count: 12, procore_total: 30, last_synced_at: null,
    error: { code: 'tool_disabled', message: 'The RFIs tool is not active on Harbor Tower.', fix: 'In Procore, open Harbor Tower › Admin › Tools and turn RFIs on.' } },
  ...[[104, 'Dockside Lofts'], [105, 'Quay Street Offices']].map(([id, name]) => ({ stream: 'rfis', project_id: id, project_name: name, status: 'error',
    count: 4, procore_total: null, last_synced_at: null, error: { code: 'project_not_permitted', message: `Procore project '${name}' is not one of KTrack's permitted projects.`,
      fix: `In Procore, open Company Admin → App Management, select KTrack and add project '${name}' to its permitted projects.` } })),
];

// Answers /api/v1/clients/{id}/procore/* from `routes` (method and path after /procore → [status, body]).
async function stubApi(page, routes, calls = []) {
  await page.route('**/api/v1/clients/*/procore**', async (route) => {
    const req = route.request();
    const path = new URL(req.url()).pathname.replace(/^.*\/procore/, '') || '/';
    const key = `${req.method()} ${path}`;
    calls.push({ key, url: req.url(), body: req.postData(), csrf: req.headers()['x-csrf-token'] });
    const answer = routes[key];
    const [status, body] = typeof answer === 'function' ? answer(req) : answer || [404, { error: { code: 'not_found', message: `no stub for ${key}` } }];
    await route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
  });
}

test('the Procore pages render what the API answers', async (t) => {
  const dir = h.tempDir('ktrack-e2e-procore-pages-');
  const client = h.ktrack(dir, ['client', 'add', '--name', 'Harbor Point Developments']);
  h.ktrack(dir, ['user', 'add', '--client', String(client.id), '--email', ADMIN.email, '--password', ADMIN.password, '--role', 'admin']);
  h.ktrack(dir, ['user', 'add', '--client', String(client.id), '--email', MEMBER.email, '--password', MEMBER.password, '--role', 'member']);
  const server = await h.startServer('ktrack', ['serve', '--listen', '127.0.0.1:0', '--data-dir', dir]);
  const browser = await h.launchBrowser();
  t.after(async () => { await browser.close(); await h.stop(server); fs.rmSync(dir, { recursive: true, force: true }); });

  const probe = await fetch(`${server.url}/clients/${client.id}/procore/setup`, { redirect: 'manual' });
  if (probe.status === 404) { t.skip('waiting for: RegisterProcorePages wired into src/app/serve.cpp'); return; }

  const context = await browser.newContext();
  const signIn = async (viewport) => {
    const page = await context.newPage();
    await page.setViewportSize(viewport);
    await h.signIn(page, server.url, ADMIN.email, ADMIN.password);
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.errors = errors;
    return page;
  };

  await t.test('several companies: the admin picks one', async () => {
    const page = await signIn({ width: 1280, height: 800 });
    const calls = [];
    let verified = false;
    await stubApi(page, {
      'GET /': () => [200, verified
        ? { status: 'credentials_verified', environment: 'production', company, credentials, settings: null, streams: [], warnings: [elsewhere] }
        : { status: 'credentials_saved', environment: 'production', company: null, credentials, settings: null, streams: [] }],
      'GET /projects': [200, projects],
      'POST /credentials/verify': (req) => {
        const body = JSON.parse(req.postData() || '{}');
        if (body.company_id) { verified = true; return [200, { ok: true, company, companies: [company] }]; }
        return [200, { ok: false, company: null, companies: [company, { id: 4264808, name: 'Harbor Point Sandbox Co.' }] }];
      },
    }, calls);
    await page.goto(`${server.url}/clients/${client.id}/procore/setup`);
    await page.waitForSelector('#step-2[data-state=current]');
    assert.strictEqual(await page.inputValue('#client_id'), credentials.client_id, 'the saved client id is kept');
    await page.click('#verify-credentials');  // the secret is kept: verify only
    await page.waitForSelector('#company-picker:not([hidden])');
    assert.strictEqual(await page.locator('#company-list input[type=radio]').count(), 2);
    await h.screenshot(page, 'pages-01-company-picker');
    await page.click('#choose-company');
    await page.waitForSelector('#step-2[data-state=done]');
    await page.waitForSelector('#step-3[data-state=current]');
    // Another KTrack client on the same company: step 2 says so, with what to check.
    const warning = page.locator('#credentials-summary .alert.warn[data-code=company_connected_elsewhere]');
    assert.strictEqual(await warning.count(), 1, 'the warning shows in step 2');
    assert.match(await warning.textContent(), /Another KTrack client is connected to this Procore company too\..*Change credentials/);
    await warning.scrollIntoViewIfNeeded();
    await h.screenshot(page, 'pages-01b-company-connected-elsewhere');
    const verify = calls.filter((c) => c.key === 'POST /credentials/verify');
    assert.deepStrictEqual(JSON.parse(verify[1].body), { company_id: company.id });
    assert.ok(calls.filter((c) => c.key !== 'GET /' && c.key !== 'GET /projects').every((c) => c.csrf), 'every change carries the CSRF token');
    assert.ok(!calls.some((c) => c.key === 'PUT /credentials'), 'an unchanged saved secret is not sent again');
    assert.deepStrictEqual(page.errors, []);
  });

  await t.test('the details page: webhooks health, a failing stream with its fix, audit log, disconnect', async () => {
    for (const [name, viewport] of [['laptop', { width: 1280, height: 800 }], ['phone', { width: 390, height: 844 }]]) {
      const page = await signIn(viewport);
      const calls = [];
      let rotated = false;
      await stubApi(page, {
        'GET /': () => {
          const integration = activeIntegration();
          integration.webhooks.secret_rotation_pending = rotated;
          if (name === 'laptop') integration.warnings = [elsewhere];
          return [200, integration];
        },
        // Procore is down: the new secret is kept, and the hook still sends the previous one.
        'POST /webhooks/rotate-secret': () => {
          rotated = true;
          return [200, { rotated: true, hook_updated: false, secret_rotation_pending: true, error: {
            code: 'procore_unavailable', message: 'Procore did not answer (503).', fix: 'Procore may be down; try again in a few minutes.' } }];
        },
        'GET /projects': [200, projects],
        'GET /streams': () => [200, streams()],
        'GET /permissions/requirements': [200, [{ scope: 'company', tool: 'Admin', level: 'read_only' }, { scope: 'company', tool: 'Webhooks API', level: 'standard' },
          { scope: 'company', tool: 'Directory', level: 'read_only' }, { scope: 'project', tool: 'RFIs', level: 'read_only' }, { scope: 'project', tool: 'Submittals', level: 'read_only' }]],
        'POST /permissions/verify': [200, permissionReport()],
        // 62 entries: the newest four (two credential saves whose client ids differ only past what the page
        // shows), then 58 reconciliations by another admin; the page asks for 50 at first.
        'GET /audit': (req) => {
          const all = [{ id: 62, at: '2026-03-02T10:17:00Z', user_id: 1, action: 'integration.settings_saved', detail: { auto_link_projects: false } },
            { id: 61, at: '2026-03-02T10:15:00Z', user_id: 1, action: 'integration.credentials_verified', detail: { company_id: company.id, companies: 1 } },
            ...[2, 1].map((n) => ({ id: 58 + n, at: '2026-03-02T10:14:00Z', user_id: 1, action: 'integration.credentials_saved',
              detail: { procore_client_id: `8de02609e22d${'0'.repeat(50)}${n}` } })),
            ...Array.from({ length: 58 }, (_, i) => ({ id: 58 - i, at: `2026-03-01T09:${String(59 - i).padStart(2, '0')}:00Z`, user_id: 2, user_email: 'sam@harborpoint.test',
              action: 'integration.reconcile_requested', detail: { streams: 3 } }))];
          return [200, all.slice(0, Number(new URL(req.url()).searchParams.get('limit')))];
        },
        'GET /webhooks/events': [200, {
          events: [
            { received_at: '2026-03-02T10:21:04Z', resource_name: 'RFIs', event_type: 'update', resource_id: 4410, project_id: 101, project_name: 'Harbor Tower', status: 'pending', outcome: null, processed_at: null },
            { received_at: '2026-03-02T10:20:41Z', resource_name: 'RFIs', event_type: 'update', resource_id: 4409, project_id: 101, project_name: 'Harbor Tower', status: 'dropped', outcome: 'tool_disabled', processed_at: '2026-03-02T10:20:42Z' },
            { received_at: '2026-03-02T10:19:12Z', resource_name: 'Submittals', event_type: 'create', resource_id: 77, project_id: 102, project_name: 'Pier 9 Retail', status: 'done', outcome: 'fetched', processed_at: '2026-03-02T10:19:13Z' },
            { received_at: '2026-03-02T10:18:30Z', resource_name: 'Company Users', event_type: 'update', resource_id: 5120, project_id: null, project_name: null, status: 'dropped', outcome: 'echo', processed_at: '2026-03-02T10:18:31Z' },
            { received_at: '2026-03-02T10:11:02Z', resource_name: 'RFIs', event_type: 'delete', resource_id: 4388, project_id: 102, project_name: 'Pier 9 Retail', status: 'dropped', outcome: 'credentials_not_verified', processed_at: '2026-03-02T10:11:03Z' },
          ],
          summary: { events: 212, pending: 1, done: 196, dropped: 15, by_outcome: { fetched: 180, current: 16, echo: 14, tool_disabled: 1 } },
        }],
        'DELETE /': [409, { error: { code: 'disconnect_in_progress', message: 'A disconnect is already running.', fix: 'Wait a minute and reload the page.' } }],
      }, calls);
      await page.goto(`${server.url}/clients/${client.id}/procore`);
      await page.waitForSelector('#details:not([hidden])');
      await page.waitForSelector('#streams-table tbody tr[data-stream="rfis"]');
      await page.waitForSelector('#permissions-grid td[data-status]');
      await page.waitForSelector('#audit-table tbody tr[data-action="integration.settings_saved"]');
      assert.match(await page.textContent('#connection-facts'), /••••••••f00d/);
      assert.strictEqual(await page.locator('#connection-warnings .alert.warn[data-code=company_connected_elsewhere]').count(),
        name === 'laptop' ? 1 : 0, 'a warning shows under the connection');
      assert.match(await page.textContent('#webhooks'), /5501/);
      assert.match(await page.textContent('#stream-errors'), /turn RFIs on/);
      // Two projects' streams refused for the same reason, each message naming its project, are one item.
      const refused = page.locator('#stream-errors .fix-item[data-code="project_not_permitted"]');
      assert.strictEqual(await refused.count(), 1);
      assert.match(await refused.textContent(), /^Error 2 streams in 2 projects: Procore project 'Dockside Lofts' is not one.*The same for Quay Street Offices\./);
      assert.match(await page.textContent('#health-facts'), /2 failing/);
      // Two projects outside the app's permitted projects are one thing to fix, not one per tool, and each is one
      // cell across the grid's row.
      assert.match(await page.textContent('#permissions-status'), /^3 to fix/);
      const notPermitted = page.locator('#permission-fixes .fix-item[data-status="project_not_permitted"]:not([data-needed="false"])');
      assert.strictEqual(await notPermitted.count(), 1);
      assert.match(await notPermitted.textContent(), /^Not permitted 2 projects are not among the app’s permitted projects\..*add 'Dockside Lofts'\.The same for Quay Street Offices\.$/);
      assert.strictEqual(await page.getAttribute('#permissions-grid tr[data-project-id="104"] td[data-status]', 'colspan'), '2');
      // A project the customer left out, which KTrack does not link, is said as such and counts as nothing to fix.
      assert.strictEqual(await page.textContent('#permission-fixes .fix-item[data-needed="false"]'),
        'Not linked Harbour Annex is not one of the app’s permitted projects. KTrack does not link it, so nothing needs fixing; to sync it, add it to the permitted projects in Procore, then link it.');
      assert.strictEqual(await page.textContent('#permissions-grid tr[data-project-id="106"] td'), 'Not permitted · not linked');
      // The audit log names who did what; older entries come 50 more at a time, and a run of the same entry is
      // one row that counts them (the first 50 entries hold 46 of the 58 reconciliations). Entries whose details
      // differ stay apart, even where the page shortens the difference away.
      const auditRows = page.locator('#audit-table tbody tr');
      assert.strictEqual(await auditRows.count(), 5);
      assert.strictEqual(await auditRows.nth(0).getAttribute('data-count'), '1');
      assert.strictEqual(await auditRows.nth(2).getAttribute('data-count'), '1');
      assert.strictEqual(await auditRows.nth(3).getAttribute('data-count'), '1');
      assert.strictEqual(await auditRows.nth(2).locator('td').nth(2).textContent(), await auditRows.nth(3).locator('td').nth(2).textContent());
      assert.strictEqual(await auditRows.nth(4).locator('td').nth(1).textContent(), 'sam@harborpoint.test');
      assert.strictEqual(await auditRows.nth(4).getAttribute('data-count'), '46');
      assert.strictEqual(await auditRows.nth(4).locator('td').nth(2).textContent(), 'Asked for reconciliation · 46 times in a rowstreams: 3');
      assert.match(await auditRows.nth(4).locator('td').nth(0).textContent(), /09:59since .*09:14$/);
      await page.click('#audit-more');
      await h.waitFor(async () => (await auditRows.nth(4).getAttribute('data-count')) === '58', { what: 'the older audit entries' });
      assert.strictEqual(await auditRows.count(), 5);
      assert.match(await auditRows.nth(4).locator('td').nth(0).textContent(), /09:59since .*09:02$/);
      assert.ok(await page.isHidden('#audit-more'), 'nothing older to show');
      assert.match(await page.textContent('#api-usage'),
        /^3,598 requests in the last hour \(Procore allows 3,600 an hour, 100 per 10 s\)Rate limited until \d\d:\d\d KTrack waits/);
      // What KTrack made of the events it received, in words; a refused re-read names what Procore refused.
      await page.waitForSelector('#received-table tbody tr');
      // The hour's requests are used up (api_usage above): the waiting event says so.
      assert.match(await page.textContent('#received-summary'),
        /^Of the last 212 events KTrack received: 196 processed · 15 skipped or refused · 1 waiting: Procore’s rate limit is used up; KTrack fetches them after \d\d:\d\d, and nothing is lost\.$/);
      assert.deepStrictEqual(await page.locator('#received-table tbody td:last-child').allTextContents(),
        ['Waiting', 'Procore refused: tool disabled', 'Re-read and stored', 'Skipped: KTrack’s own change',
          'Dropped while the credentials await verification; caught up after']);
      assert.match(await page.textContent('#received-table tbody tr:nth-child(4)'), /Company Users update · #5120\s*Company/);
      await h.screenshot(page, `pages-02-details-${name}`);
      if (name === 'laptop') {
        // Rotating the webhook secret while Procore is down: kept, both accepted, and the way to finish it.
        assert.match(await page.textContent('#webhook-secret'), /KTrack keeps it encrypted/);
        await page.click('#rotate-webhook-secret');
        await page.waitForSelector('#rotate-error:not([hidden])');
        assert.strictEqual(await page.textContent('#rotate-error'),
          'KTrack made a new secret, but Procore’s hook was not updated: Procore did not answer (503).' +
          'Procore may be down; try again in a few minutes. Both secrets are accepted meanwhile; click Rotate secret again to retry.');
        await page.waitForSelector('#webhook-secret .badge.warn');
        assert.match(await page.textContent('#webhook-secret'), /^Rotation pending Procore’s hook still has the previous secret/);
        assert.ok(calls.find((c) => c.key === 'POST /webhooks/rotate-secret').csrf, 'the rotation carries the CSRF token');
        await h.screenshot(page, 'pages-06-webhook-rotation-pending');
        await page.click('#edit-settings');
        await page.uncheck('input[name=domain][value=submittals]');
        assert.strictEqual(await page.locator('#requirements-table tr[data-tool="Submittals"]').count(), 0);
        assert.strictEqual(await page.getAttribute('#requirements-table', 'data-source'), 'preview');
        await h.screenshot(page, 'pages-03-details-edit-settings');
        await page.click('#cancel-settings');
        await page.click('#disconnect');
        await page.check('input[name=purge_data][value=purge]');
        await page.click('#confirm-disconnect');
        await page.waitForSelector('#disconnect-form [data-role=error]:not([hidden])');
        assert.deepStrictEqual(JSON.parse(calls.find((c) => c.key === 'DELETE /').body), { purge_data: true });
        await h.screenshot(page, 'pages-04-disconnect-refused');
      }
      assert.deepStrictEqual(page.errors, []);
    }
  });

  await t.test('the projects page: search, filter, link', async () => {
    const page = await signIn({ width: 1280, height: 800 });
    const calls = [];
    // The server searches, filters and pages; the stub does the same over three projects.
    await stubApi(page, {
      'GET /': [200, activeIntegration()],
      'GET /projects': (req) => {
        const q = new URL(req.url()).searchParams;
        const text = (q.get('q') || '').toLowerCase();
        const list = projects.filter((p) => (!text || `${p.name} ${p.project_number}`.toLowerCase().includes(text)) &&
          (!q.has('linked') || (q.get('linked') === 'true') === !!p.linked_ktrack_project_id));
        return [200, list];
      },
      // Linked, though Procore refuses the project: every tool for one reason, said once.
      'POST /projects/102/link': [200, { procore_project_id: 102, ktrack_project_id: 12, ktrack_project_name: 'Pier 9 Retail', permissions: { ok: false,
        checks: ['RFIs', 'Submittals'].map((tool) => ({ scope: 'project', project_id: 102, project_name: 'Pier 9 Retail', tool, required: 'Read Only', actual: '', needed: true,
          status: 'project_not_permitted', fix: 'In Procore, open Company Admin → App Management → KTrack → Permitted Projects, add \'Pier 9 Retail\'.' })) } }],
      'POST /streams/reconcile': [202, { queued: 1 }],
      'GET /ktrack-projects': [200, [{ id: 7, name: 'Harbor Tower', project_number: 'HT-01', procore_project_id: 101, procore_project_name: 'Harbor Tower' },
        { id: 9, name: 'Pier 9 (2024 bid)', project_number: '', procore_project_id: null, procore_project_name: null }]],
    }, calls);
    await page.goto(`${server.url}/clients/${client.id}/procore/projects`);
    await page.waitForSelector('#projects-table tbody tr[data-project-id="101"]');
    assert.strictEqual(await page.locator('#projects-table tbody tr[data-project-id]').count(), 5);
    assert.ok(await page.isDisabled('tr[data-project-id="103"] button'), 'a project the app may not reach cannot be linked');
    // Beyond the permission check's sample, access is not known: the page does not claim it.
    assert.strictEqual(await page.textContent('tr[data-project-id="102"] td[data-label="Procore access"]'), 'Not checked');
    assert.strictEqual(await page.textContent('tr[data-project-id="101"] td[data-label="Procore access"]'), 'Permitted');
    // Not in the sample, but its data syncs: that shows Procore permits it.
    assert.strictEqual(await page.textContent('tr[data-project-id="105"] td[data-label="Procore access"]'), 'Permitted');
    // A linked project Procore no longer lists stays, with what stopped its streams; the fix is said once, in the
    // access column.
    const gone = page.locator('tr[data-project-id="104"]');
    assert.match(await gone.locator('td').first().textContent(), /Procore no longer lists it for KTrack’s app\./);
    assert.strictEqual(await gone.locator('.drift').textContent(),
      '3 streams stopped: Procore project \'Dockside Lofts\' is not one of KTrack\'s permitted projects.KTrack resumes its sync by itself once Procore permits it.');
    assert.match(await gone.locator('.access-fix').textContent(), /add project 'Dockside Lofts'/);
    assert.ok(await gone.locator('button:text-is("Unlink")').isEnabled());
    // A drifted project says why it is paused and what fixes it; an unlinked one offers the free KTrack project.
    assert.match(await page.textContent('tr[data-project-id="101"] .drift'), /^The RFIs tool is turned off\..*turn RFIs on/);
    assert.deepStrictEqual(await page.locator('tr[data-project-id="102"] select.link-target option').allTextContents(),
      ['New KTrack project', 'Pier 9 (2024 bid)']);
    await h.screenshot(page, 'pages-05-projects');
    const rows = page.locator('#projects-table tbody tr[data-project-id]');
    await page.fill('#project-search', 'zür');
    await h.waitFor(async () => (await rows.count()) === 1, { what: 'the search to narrow the list' });
    assert.ok(calls.some((c) => c.key === 'GET /projects' && /q=z%C3%BCr/.test(c.url)), 'the server searches');
    await page.fill('#project-search', '');
    await page.selectOption('#project-filter', 'unlinked');
    await h.waitFor(async () => (await rows.count()) === 2, { what: 'the filter' });
    await page.selectOption('#project-filter', 'all');
    await h.waitFor(async () => (await rows.count()) === 5, { what: 'every project again' });
    await page.click('tr[data-project-id="102"] button:text-is("Link")');
    await h.waitFor(() => calls.some((c) => c.key === 'POST /projects/102/link'), { what: 'the link call' });
    assert.deepStrictEqual(JSON.parse(calls.find((c) => c.key === 'POST /projects/102/link').body), { create: true });
    await page.waitForSelector('tr.link-result[data-result-for="102"]');
    assert.deepStrictEqual(await page.locator('tr.link-result .fix').allTextContents(),
      ['Not permitted In Procore, open Company Admin → App Management → KTrack → Permitted Projects, add \'Pier 9 Retail\'.']);
    // A project missing from the list: the page says where Procore's list comes from, and reads it again.
    assert.match(await page.textContent('#projects-note'), /only the app's permitted projects/);
    const listed = calls.filter((c) => c.key === 'GET /projects').length;
    await page.click('#refresh-projects');
    await page.waitForSelector('#projects-refresh-result:not([hidden])');
    assert.deepStrictEqual(JSON.parse(calls.find((c) => c.key === 'POST /streams/reconcile').body), { stream: 'projects' });
    await h.waitFor(() => calls.filter((c) => c.key === 'GET /projects').length > listed, { what: 'the list read again' });
    assert.deepStrictEqual(page.errors, []);
  });

  await t.test('a KTrack project\'s records, a page at a time', async () => {
    const page = await signIn({ width: 1280, height: 800 });
    const calls = [];
    // 60 RFIs on Harbor Tower: three pages of 25. The stub answers the page asked for.
    const rfis = Array.from({ length: 60 }, (_, i) => ({ procore_id: 9000 + i, project_id: 101, updated_at: '2024-05-0' + (1 + (i % 9)) + 'T08:30:00Z',
      deleted: false, record: { id: 9000 + i, number: String(i + 1), subject: `Question ${i + 1}`, status: i % 2 ? 'open' : 'closed' } }));
    await stubApi(page, {
      'GET /ktrack-projects': [200, [{ id: 7, name: 'Harbor Tower', project_number: 'HT-01', procore_project_id: 101, procore_project_name: 'Harbor Tower' }]],
      'GET /streams': () => [200, streams()],
      'GET /records': (req) => {
        const q = new URL(req.url()).searchParams;
        const n = Number(q.get('page')), per = Number(q.get('per_page'));
        const text = (q.get('q') || '').toLowerCase();
        const found = rfis.filter((r) => JSON.stringify(r.record).toLowerCase().includes(text));
        return [200, { records: found.slice((n - 1) * per, n * per), total: found.length, page: n, per_page: per }];
      },
    }, calls);
    await page.goto(`${server.url}/clients/${client.id}/projects/7`);
    // Its RFIs stopped on a tool turned off: said above the table, with the fix, and not as syncing.
    await page.waitForSelector('#stream-errors .fix-item');
    assert.strictEqual(await page.textContent('#next-action'), 'Its one stream stopped on an error; what to do is below.');
    assert.match(await page.textContent('#stream-errors'), /RFIs \(Harbor Tower\): The RFIs tool is not active on Harbor Tower\.In Procore, open Harbor Tower › Admin › Tools and turn RFIs on\./);
    await page.click('#ktrack-streams-table tr[data-stream="rfis"] button');
    await page.waitForSelector('#records-table tbody tr[data-procore-id="9000"]');
    assert.strictEqual(await page.textContent('#records-summary'), '60 records synced from Procore, as Procore last sent them.');
    assert.strictEqual(await page.locator('#records-table tbody tr').count(), 25);
    const first = await page.locator('#records-table tbody tr').first().locator('td').allTextContents();
    assert.deepStrictEqual([first[0], first[1], first[2], first[4]], ['1', 'Question 1', 'closed', '9000']);
    assert.match(first[3], /^1 May 2024, \d\d:\d\d$/, 'a record\'s date has its year');
    assert.match(await page.textContent('#records-pager'), /Page 1 of 3/);
    assert.ok(await page.isDisabled('#records-pager button:has-text("Previous")'));
    await page.click('#records-pager button:has-text("Next")');
    await page.waitForSelector('#records-table tbody tr[data-procore-id="9025"]');
    assert.match(await page.textContent('#records-pager'), /Page 2 of 3/);
    await page.click('#records-pager button:has-text("Next")');
    await page.waitForSelector('#records-table tbody tr[data-procore-id="9050"]');
    assert.strictEqual(await page.locator('#records-table tbody tr').count(), 10);
    assert.ok(await page.isDisabled('#records-pager button:has-text("Next")'));
    assert.deepStrictEqual(calls.filter((c) => c.key === 'GET /records').map((c) => new URL(c.url).search),
      ['?stream=rfis&project_id=101&page=1&per_page=25', '?stream=rfis&project_id=101&page=2&per_page=25',
        '?stream=rfis&project_id=101&page=3&per_page=25']);
    // Searching asks the server for the records with the text, from the first page.
    await page.fill('#records-q', 'question 6');  // Question 6 and Question 60
    await page.waitForSelector('#records-table tbody tr[data-procore-id="9059"]');
    await h.waitFor(async () => (await page.locator('#records-table tbody tr').count()) === 2, { what: 'the search to narrow the records' });
    assert.strictEqual(await page.textContent('#records-summary'), '2 records with “question 6”.');
    assert.strictEqual(new URL(calls.filter((c) => c.key === 'GET /records').pop().url).searchParams.get('q'), 'question 6');
    await h.screenshot(page, 'pages-07-records');
    await page.fill('#records-q', 'nothing like it');
    await page.waitForSelector('#records-table tbody tr', { state: 'detached' });
    assert.strictEqual(await page.textContent('#records-summary'), 'No record has “nothing like it”.');
    await page.click('#close-records');
    assert.ok(await page.isHidden('#records-panel'));
    // On a phone the table scrolls sideways inside its frame; the page itself does not.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.click('#ktrack-streams-table tr[data-stream="rfis"] button');
    await page.waitForSelector('#records-table tbody tr[data-procore-id="9000"]');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scroll of the page');
    await h.screenshot(page, 'pages-07-records-phone');
    assert.deepStrictEqual(page.errors, []);
  });

  await t.test('a member reads a KTrack project\'s data; reconciling and linking stay with the admins', async () => {
    const memberContext = await browser.newContext();
    const page = await memberContext.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    await h.signIn(page, server.url, MEMBER.email, MEMBER.password);
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const calls = [];
    const rfis = [1, 2].map((i) => ({ procore_id: 9100 + i, project_id: 101, updated_at: '2024-06-0' + i + 'T09:00:00Z', deleted: false,
      record: { id: 9100 + i, number: String(i), subject: `Curtain wall anchor ${i}`, status: 'open' } }));
    await stubApi(page, {
      'GET /ktrack-projects': [200, [{ id: 7, name: 'Harbor Tower', project_number: 'HT-01', procore_project_id: 101, procore_project_name: 'Harbor Tower' },
        { id: 8, name: 'Pier 9 Retail', project_number: 'P9-02', procore_project_id: null }]],
      'GET /streams': () => [200, streams()],
      'GET /records': [200, { records: rfis, total: rfis.length, page: 1, per_page: 25 }],
    }, calls);
    await page.goto(`${server.url}/clients/${client.id}/projects/7`);
    await page.waitForSelector('#stream-errors .fix-item');
    assert.strictEqual(await page.textContent('#next-action'), 'Its one stream stopped on an error; the fix below is for an admin of this client or of Procore.');
    assert.strictEqual((await page.textContent('.crumbs')).replace(/\s+/g, ' '), 'Harbor Point Developments › Harbor Tower');
    assert.strictEqual(await page.locator('#reconcile-project').count(), 0, 'no reconcile for a member');
    await page.click('#ktrack-streams-table tr[data-stream="rfis"] button');
    await page.waitForSelector('#records-table tbody tr[data-procore-id="9101"]');
    assert.strictEqual(await page.textContent('#records-summary'), '2 records synced from Procore, as Procore last sent them.');
    assert.strictEqual(await page.locator('#reconcile-records').count(), 0, 'no reconcile of a stream either');
    assert.ok(await page.isVisible('#close-records'));
    await h.screenshot(page, 'pages-11-member-project');
    // A project not linked yet: the member is told who links it, with no link to the admins' page.
    await page.goto(`${server.url}/clients/${client.id}/projects/8`);
    await h.waitFor(async () => /not linked to a Procore project yet/.test(await page.textContent('#next-action')), { what: 'the unlinked project\'s note' });
    assert.strictEqual(await page.textContent('#next-action'),
      'It is not linked to a Procore project yet: an admin of this client links it from the Procore projects page.');
    assert.strictEqual(await page.locator('#next-action a').count(), 0);
    // The page asked only for what a member may read.
    assert.deepStrictEqual([...new Set(calls.map((c) => c.key))].sort(), ['GET /ktrack-projects', 'GET /records', 'GET /streams']);
    assert.deepStrictEqual(errors, []);
    await memberContext.close();
  });

  await t.test('Procore refuses the app, or lost KTrack\'s hook: the page says so, with the fix', async () => {
    // Four projects' streams, all stopped by the uninstalled app.
    const uninstalled = () => [[101, 'Harbor Tower'], [102, 'Pier 9 Retail'], [103, 'Zürich Haus'], [104, 'Dockside']].flatMap(([id, name], n) =>
      (n === 0 ? ['rfis', 'submittals'] : n === 1 ? ['rfis', 'submittals'] : ['rfis']).map((stream) => ({
        stream, project_id: id, project_name: name, status: 'error', count: 5, procore_total: 5, last_synced_at: null,
        error: { code: 'app_not_installed', message: refused.message, fix: refused.fix } })));
    const page = await signIn({ width: 1280, height: 800 });
    const at = new Date(Date.now() - 20 * 1000).toISOString();
    let gone = false, down = false;
    // Webhooks brought one stream past the total Procore reported at its last read.
    const caughtUp = [
      { stream: 'projects', project_id: null, status: 'synced', count: 3, procore_total: 3, last_synced_at: at, error: null },
      { stream: 'rfis', project_id: 101, project_name: 'Harbor Tower', status: 'synced', count: 7, procore_total: 5, last_synced_at: at, error: null },
      // Another Procore project of the same name.
      { stream: 'rfis', project_id: 102, project_name: 'Harbor Tower', status: 'synced', count: 2, procore_total: 2, last_synced_at: at, error: null }];
    let refused = { code: 'app_not_installed', message: 'The app is not installed in the company Harbor Point Builders (or was uninstalled).',
      fix: 'In Procore, a company admin opens Company Admin › App Management and installs the app again.', at };
    // Two projects of one name, both fine.
    const passing = { ok: true, projects_checked: 2, projects_total: 2, checked_at: at, checks: [101, 102].map((id) => (
      { scope: 'project', project_id: id, project_name: 'Harbor Tower', tool: 'RFIs', required: 'Read Only', actual: 'Read Only', status: 'ok', fix: '' })) };
    await stubApi(page, {
      'GET /': () => {
        const integration = activeIntegration();
        if (down) {
          integration.webhooks.health_check_error = { code: 'procore_unavailable', message: 'Procore is unavailable (HTTP 503).',
            fix: 'Usually temporary: KTrack retries by itself.', at };
          integration.permissions = passing;
          return [200, integration];
        }
        if (gone) {
          integration.status = 'completing';
          integration.webhooks.health_check_error = { code: 'hook_missing', message: 'Procore no longer has KTrack\'s webhook (hook 5501): it was deleted in Procore.', fix: '', at };
          return [200, integration];
        }
        integration.last_error = { ...refused, source: 'health_check' };
        integration.webhooks.health_check_error = refused;
        integration.permissions = passing;
        return [200, integration];
      },
      'GET /streams': () => [200, down ? caughtUp : uninstalled()],
      'GET /projects': [200, projects],
      'GET /permissions/requirements': [200, []],
      'GET /audit': [200, [{ id: 1, at, user_id: null, action: 'integration.procore_refused', detail: { code: 'app_not_installed' } }]],
      // While Procore is down, three events wait for processing to try again.
      'GET /webhooks/events': () => [200, !down ? { events: [], summary: { events: 0, pending: 0, done: 0, dropped: 0, by_outcome: {} } } : {
        events: [{ received_at: at, resource_name: 'RFIs', event_type: 'update', resource_id: 7, project_id: 101, project_name: 'Harbor Tower', status: 'pending', outcome: null, processed_at: null }],
        summary: { events: 3, pending: 3, done: 0, dropped: 0, by_outcome: {},
          processing_retry: { code: 'procore_unavailable', retry_at: new Date(Date.now() + 60 * 1000).toISOString(), failed_attempts: 2 } } }],
    });
    await page.goto(`${server.url}/clients/${client.id}/procore`);
    await page.waitForSelector('#last-error:not([hidden])');
    await page.waitForSelector('#webhooks-check-error');
    assert.strictEqual(await page.textContent('#integration-status'), 'Needs attention');
    assert.match(await page.textContent('#last-error'), /not installed in the company Harbor Point Builders.*installs the app again/);
    assert.strictEqual(await page.getAttribute('#last-error', 'data-code'), 'app_not_installed');
    assert.match(await page.textContent('#webhooks-checked'), /last check failed 20 s ago/);
    assert.strictEqual(await page.textContent('#webhooks-check-error'),
      'KTrack could not read Procore’s delivery log: Procore refused it, as the alert at the top of the page says.');
    // Every stream stopped on the one refusal: said once, the streams listed under it, the projects folded.
    await page.waitForSelector('#stream-errors .fix-item');
    assert.strictEqual(await page.locator('#stream-errors .fix-item').count(), 1);
    assert.strictEqual(await page.getAttribute('#stream-errors .fix-item', 'data-streams'), '6');
    assert.match(await page.textContent('#stream-errors'), /^Error 6 streams: The app is not installed/);
    await page.click('#stream-errors summary');
    assert.match(await page.textContent('#stream-errors details'), /RFIs \(Harbor Tower\) · Submittals \(Harbor Tower\) · RFIs \(Pier 9 Retail\)/);
    assert.strictEqual(await page.locator('#streams-table tr[data-stream]:visible').count(), 0, 'the failing projects are folded');
    assert.ok(await page.locator('#sync-bar.failing').count() === 1, 'the progress bar says the streams stopped');
    assert.match(await page.textContent('#health-facts'), /Webhooks\s*created · check failing/);
    assert.match(await page.textContent('#streams-table tr[data-group-head="101"]'), /0 of 2 synced.*2 failing/);
    await page.waitForSelector('#audit-table tbody tr[data-action="integration.procore_refused"]');
    assert.match(await page.textContent('#audit-table tbody'), /KTrack.*Procore refused KTrack’s background check/);
    assert.strictEqual(await page.locator('#last-error-replace').count(), 0, 'nothing to paste for an uninstalled app');
    // The last check passed, before Procore refused the app: the card does not say all is well now.
    assert.match(await page.textContent('#permissions-status'),
      /^Cannot check now Procore refuses the app, as the alert at the top of the page says\. The last check \(20 s ago\): 2 checks passed/);
    await h.screenshot(page, 'pages-08-procore-refuses');
    // A new client secret in the Developer Portal: the alert leads to the form for it.
    refused = { code: 'invalid_credentials', message: 'Procore did not accept the client ID and client secret.',
      fix: 'In the Procore Developer Portal, open the app\'s OAuth Credentials, copy the Client Secret again and save it in KTrack.', at };
    await page.reload();
    await page.waitForSelector('#last-error-replace');
    await page.click('#last-error-replace');
    await page.waitForSelector('#replace-secret-form:not([hidden])');
    assert.strictEqual(await page.evaluate(() => document.activeElement.id), 'new_client_secret');
    await h.screenshot(page, 'pages-09-paste-new-secret');
    // KTrack's hook deleted in Procore: the check completes the integration again, and the page says why.
    gone = true;
    await page.reload();
    await h.waitFor(async () => (await page.textContent('#integration-status')) === 'Restoring webhook', { what: 'the restoring badge' });
    assert.match(await page.textContent('#next-action'), /webhook was deleted in Procore: KTrack is creating it again/);
    assert.ok(await page.isHidden('#procore-down'));
    // Procore down: nothing to fix, but the page says it at the top, and that nothing is lost.
    down = true;
    await page.reload();
    await page.waitForSelector('#procore-down:not([hidden])');
    assert.strictEqual(await page.textContent('#integration-status'), 'Active');
    assert.match(await page.textContent('#procore-down'),
      /^Procore did not answer KTrack’s last check at \d\d:\d\d: Procore is unavailable \(HTTP 503\)\.KTrack retries by itself.*nothing is lost\.$/);
    await page.waitForSelector('#received-summary');
    assert.match(await page.textContent('#received-summary'),
      /^Of the last 3 events KTrack received: 0 processed · 3 waiting: Procore did not answer; KTrack tries again at \d\d:\d\d, and nothing is lost\.$/);
    await h.screenshot(page, 'pages-10-procore-down');
    // What KTrack holds, as At a glance counts it: not clipped at Procore's earlier totals.
    assert.strictEqual(await page.textContent('#sync-overall'), 'All 3 streams synced · 12 records');
    assert.match(await page.textContent('#health-facts'), /Records\s*12(?!\d)/);
    // Two projects of one name say their project numbers, in the streams and in the permissions grid.
    assert.deepStrictEqual(await page.locator('#permissions-grid tr[data-scope="project"] th').allTextContents(),
      ['Harbor Tower (HT-01)', 'Harbor Tower (P9-02)']);
    assert.match(await page.textContent('#streams-table tr[data-group-head="101"]'), /Harbor Tower \(HT-01\) ·/);
    assert.match(await page.textContent('#streams-table tr[data-group-head="102"]'), /Harbor Tower \(P9-02\) ·/);
    assert.match(await page.textContent('#permissions-status'), /^All permissions OK 2 checks passed/);
    // Procore refuses the app again while the page is open: the page says so without a reload.
    down = false; gone = false;
    await page.waitForSelector('#last-error:not([hidden])', { timeout: 40000 });
    assert.strictEqual(await page.textContent('#integration-status'), 'Needs attention');
    assert.match(await page.textContent('#permissions-status'), /^Cannot check now/);
    assert.ok(await page.isHidden('#procore-down'));
    assert.deepStrictEqual(page.errors, []);
  });

  await t.test('KTrack\'s Marketplace app: no secret of the customer\'s to show or replace', async () => {
    const page = await signIn({ width: 1280, height: 800 });
    await stubApi(page, {
      'GET /': () => [200, { ...activeIntegration(), credentials: { client_id: null, client_secret: null, uses_marketplace_app: true, verified_at: credentials.verified_at } }],
      'GET /streams': [200, []],
      'GET /projects': [200, projects],
      'GET /permissions/requirements': [200, []],
      'GET /audit': [200, []],
      'GET /webhooks/events': [200, { events: [], summary: { events: 0, pending: 0, done: 0, dropped: 0, by_outcome: {} } }],
    });
    await page.goto(`${server.url}/clients/${client.id}/procore`);
    await page.waitForSelector('#connection-facts dd');
    const facts = await page.textContent('#connection-facts');
    assert.match(facts, /AppKTrack’s Marketplace app/);
    assert.doesNotMatch(facts, /Client Secret|Client ID/);
    assert.ok(await page.isHidden('#replace-secret'), 'nothing to replace');
    assert.ok(await page.isVisible('#change-credentials'));
    assert.deepStrictEqual(page.errors, []);
  });
});
