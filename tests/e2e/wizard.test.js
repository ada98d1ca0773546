// The help article "Configure Procore company integration with KTrack", walked in a real browser against the
// Procore emulator: Concierge, the summary of steps, a wrong secret and then the right one, the settings and
// the tools they need, permissions missing on one tool and on one project, fixed in "Procore", verified,
// completed, and every stream synced with the emulator's counts and checksums. Screenshots of each step go to
// build/e2e-artifacts/wizard-*.png (laptop) and wizard-phone-*.png.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const h = require('./harness');

const ADMIN = { email: 'dana@harborpoint.test', password: 'site-visit-42' };
const PROJECT_TOOLS = ['Admin', 'Budget', 'Commitments', 'Change Orders', 'Prime Contracts', 'Change Events',
  'Direct Costs', 'RFIs', 'Submittals', 'Daily Log'];

function readOnly(tools) { return Object.fromEntries(tools.map((t) => [t, 'read_only'])); }

// What is not there yet, if anything: the pages route and the JSON API are built in parallel.
async function missingPieces(ktrackUrl, clientId, token) {
  const missing = [];
  const api = await fetch(`${ktrackUrl}/api/v1/clients/${clientId}/procore`, { headers: { Authorization: `Bearer ${token}` } });
  if (api.status === 404) missing.push('the JSON API GET /api/v1/clients/{id}/procore (interfaces.md)');
  const page = await fetch(`${ktrackUrl}/clients/${clientId}/procore/setup`, { redirect: 'manual' });
  if (page.status === 404) missing.push('RegisterProcorePages wired into src/app/serve.cpp');
  return missing;
}

test('Concierge walks the Procore company integration end to end, as the help article does', { timeout: 15 * 60 * 1000 }, async (t) => {
  // Procore: a company with three projects, and a DMSA app installed with one tool too low on every project.
  const emulator = await h.startEmulator('small', ['--seed', '7']);
  const world = await emulator.control('POST', '/_emulator/reset', { preset: 'small', seed: 7 });
  const company = world.companies[0];
  const [p1, p2] = company.project_ids;
  const app = await emulator.control('POST', '/_emulator/apps', { name: 'KTrack (Harbor Point)', kind: 'dmsa' });
  const permissions = {
    company: { Admin: 'read_only', Directory: 'read_only', 'Webhooks API': 'standard' },
    project: { ...readOnly(PROJECT_TOOLS), RFIs: 'none' },  // missing on one tool
  };
  await emulator.control('POST', `/_emulator/companies/${company.id}/installs`,
    { client_id: app.client_id, permissions, permitted_projects: 'all' });
  await emulator.control('PUT', `/_emulator/projects/${p2}/tools/Submittals`, { active: false });  // and on one project

  // KTrack: a client and its admin; custom URLs allowed so KTrack can reach the emulator.
  const dir = h.tempDir('ktrack-e2e-wizard-');
  const client = h.ktrack(dir, ['client', 'add', '--name', 'Harbor Point Developments']);
  h.ktrack(dir, ['user', 'add', '--client', String(client.id), '--email', ADMIN.email, '--password', ADMIN.password, '--role', 'admin']);
  const token = h.ktrack(dir, ['token', 'create', '--email', ADMIN.email]).token;
  const server = await h.startServer('ktrack', ['serve', '--listen', '127.0.0.1:0', '--data-dir', dir],
    { KTRACK_PROCORE_ALLOW_CUSTOM_URLS: 'true' });
  const browser = await h.launchBrowser();
  t.after(async () => {
    await browser.close();
    await h.stop(server);
    await h.stop(emulator);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const missing = await missingPieces(server.url, client.id, token);
  if (missing.length) {
    t.skip(`waiting for: ${missing.join('; ')}`);
    return;
  }

  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(m.text()); });
  const setupUrl = `${server.url}/clients/${client.id}/procore/setup`;
  const phone = async (name, url) => {
    const p = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await h.signIn(p, server.url, ADMIN.email, ADMIN.password);
    await p.goto(url || setupUrl);
    await p.waitForSelector('#next-action:not(:has-text("Loading"))');
    await h.screenshot(p, `wizard-phone-${name}`);
    await p.close();
  };

  await t.test('1–2: Concierge → Integrate with Procore → the summary of steps → Continue', async () => {
    await h.signIn(page, server.url, ADMIN.email, ADMIN.password);
    await page.goto(`${server.url}/clients/${client.id}`);
    await page.click('#gear-menu summary');
    await Promise.all([page.waitForNavigation(), page.click('#gear-menu a:has-text("Concierge")')]);
    await Promise.all([page.waitForNavigation(), page.click('text=Integrate with Procore')]);
    assert.match(page.url(), /\/procore\/integrate$/);
    assert.match(await page.textContent('#dmsa-note'), /18 March 2025/);
    assert.strictEqual(await page.locator('#summary-steps > li').count(), 5);
    await h.screenshot(page, 'wizard-01-summary');
    await Promise.all([page.waitForNavigation(), page.click('#continue')]);
    assert.match(page.url(), /\/procore\/setup$/);
    await page.waitForSelector('#step-1[data-state=current]');
    assert.strictEqual(await page.getAttribute('#wizard-steps li[data-step="1"]', 'aria-current'), 'step');
    assert.ok(await page.isDisabled('#complete'), 'Complete Integration waits for the steps before it');
    await h.screenshot(page, 'wizard-02-create-credentials');
  });

  await t.test('3–4: a wrong secret gets its own message and fix; the right one finds the company', async () => {
    await page.click('#have-credentials');
    await page.waitForSelector('#step-2[data-state=current]');
    await page.selectOption('#environment', 'custom');
    await page.fill('#login_url', emulator.url);
    await page.fill('#api_url', emulator.url);
    await page.fill('#client_id', app.client_id);
    await page.fill('#company_id', String(company.id));  // Procore asks a service account which company it acts in
    await page.fill('#client_secret', 'not-the-secret');
    await page.click('#verify-credentials');
    const error = page.locator('#credentials-form [data-role=error]');
    await error.waitFor({ state: 'visible' });
    assert.strictEqual(await error.getAttribute('data-code'), 'invalid_credentials');
    assert.ok((await error.locator('.fix').textContent()).length > 10, 'the error says what to do');
    await h.screenshot(page, 'wizard-03-wrong-secret');

    await page.fill('#client_secret', app.client_secret);
    await page.click('#verify-credentials');
    await page.waitForSelector('#step-2[data-state=done]');
    assert.strictEqual((await page.textContent('#credentials-summary .company-name strong')).trim(), company.name);
    const masked = await page.textContent('#credentials-summary .secret-masked');
    assert.ok(!masked.includes(app.client_secret), 'the secret is never shown again');
    assert.ok(!(await page.content()).includes(app.client_secret), 'the secret is not in the page');
    await page.waitForSelector('#step-3[data-state=current]');
    await h.screenshot(page, 'wizard-04-verified');
  });

  await t.test('5–6: the settings show the Procore tools they need, live', async () => {
    const row = (tool) => page.locator(`#requirements-table tr[data-tool="${tool}"]`);
    assert.strictEqual(await row('Daily Log').count(), 1);
    assert.strictEqual(await row('Webhooks API').count(), 1, 'creating the webhooks needs the Webhooks API tool');
    await page.uncheck('input[name=domain][value=daily_logs]');
    assert.strictEqual(await row('Daily Log').count(), 0, 'unticking Daily logs drops its tool');
    await page.check('input[name=domain][value=daily_logs]');
    await page.check('#auto_link_projects');
    await h.screenshot(page, 'wizard-05-settings');
    await page.click('#save-settings');
    await page.waitForSelector('#step-3[data-state=done]');
    assert.strictEqual(await page.getAttribute('#requirements-table', 'data-source'), 'server');
  });

  await t.test('7: Verify permissions shows the missing tool and the project where a tool is off, with fixes', async () => {
    await page.waitForSelector('#permissions-grid td[data-status]');
    const rfis = page.locator('#permissions-grid td[data-tool="RFIs"][data-status="missing"]');
    assert.ok(await rfis.count() >= 1, 'RFIs is missing on the projects');
    const disabled = page.locator(`#permissions-grid tr[data-project-id="${p2}"] td[data-tool="Submittals"]`);
    assert.strictEqual(await disabled.getAttribute('data-status'), 'tool_disabled');
    assert.ok(await page.locator('#permission-fixes .fix-item[data-tool="RFIs"] .fix').count() === 1);
    assert.ok(await page.locator('#permission-fixes .fix-item[data-tool="Submittals"] .fix').count() === 1);
    assert.ok(await page.isDisabled('#complete'));
    assert.match(await page.textContent('#complete-reason'), /permissions/);
    await h.screenshot(page, 'wizard-06-permissions-missing');
    await phone('06-permissions-missing');
  });

  await t.test('7: fixed in Procore, Re-verify passes', async () => {
    await emulator.control('PATCH', `/_emulator/companies/${company.id}/installs/${app.client_id}`,
      { permissions: { company: permissions.company, project: readOnly(PROJECT_TOOLS) } });
    await emulator.control('PUT', `/_emulator/projects/${p2}/tools/Submittals`, { active: true });
    await page.click('#verify-permissions');
    await page.waitForSelector('#step-4[data-state=done]');
    assert.strictEqual(await page.locator('#permission-fixes .fix-item').count(), 0);
    assert.ok(!(await page.isDisabled('#complete')), 'Complete Integration is ready');
    await h.screenshot(page, 'wizard-07-permissions-ok');
  });

  await t.test('8: Complete Integration syncs every stream to the emulator\'s truth, without a reload', async () => {
    const navigations = [];
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(f.url()); });
    // Procore answers slowly for a while, so the page is seen in the middle of the sync, as the admin of a large
    // company sees it for hours (this small company's sync would otherwise end within one of the page's polls).
    await emulator.control('PUT', '/_emulator/faults', { latency_ms: 800 });
    await page.click('#complete');
    await page.waitForSelector('#streams-table tbody tr');
    const midway = await page.waitForFunction(() => {
      // "· 96 records so far" while some streams wait for their first page (Procore has not said their size).
      const m = /^(\d+) of (\d+) streams synced · [\d,]+ (?:records so far|of [\d,]+ records)$/
        .exec(document.querySelector('#sync-overall').textContent);
      return m && Number(m[1]) > 0 && Number(m[1]) < Number(m[2]) ? m[0] : null;
    }, null, { timeout: 2 * 60 * 1000, polling: 100 });
    assert.ok(await midway.jsonValue(), 'the page counts the streams synced so far');
    const bar = parseInt(await page.$eval('#sync-bar', (b) => b.style.width), 10);
    assert.ok(bar < 100, `the progress bar is not full while streams wait (${bar}%)`);
    // A stream still to read says so in its row: an ETA once Procore has told its size, "…" before.
    const waiting = page.locator('#streams-table tr[data-stream]:not([data-status="synced"]) .eta-col');
    assert.ok(await waiting.count() > 0, 'some streams are still to sync');
    assert.match(await waiting.first().textContent(), /^(…|about .+ left)$/);
    assert.strictEqual(await page.isVisible('#sync-done'), false, 'not finished yet');
    await h.screenshot(page, 'wizard-08-syncing');
    await emulator.control('PUT', '/_emulator/faults', { latency_ms: 0 });
    await page.waitForSelector('#sync-done', { state: 'visible', timeout: 10 * 60 * 1000 });
    assert.deepStrictEqual(navigations, [], 'progress updates in place');
    await h.screenshot(page, 'wizard-09-synced');

    const streams = await page.evaluate(async (id) => (await fetch(`/api/v1/clients/${id}/procore/streams`)).json(), client.id);
    const truth = await emulator.control('GET', `/_emulator/truth?company_id=${company.id}`);
    const byKey = new Map(truth.streams.map((s) => [`${s.stream}:${s.project_id ?? ''}`, s]));
    assert.ok(streams.length >= 4, 'the company streams at least');
    for (const s of streams) {
      const want = byKey.get(`${s.stream}:${s.project_id ?? ''}`);
      assert.ok(want, `the emulator knows ${s.stream} ${s.project_id ?? ''}`);
      assert.strictEqual(s.status, 'synced', `${s.stream} ${s.project_id ?? ''}`);
      assert.strictEqual(s.count, want.count, `${s.stream} ${s.project_id ?? ''} count`);
      assert.strictEqual(s.checksum, want.checksum, `${s.stream} ${s.project_id ?? ''} checksum`);
      // What the page shows is what KTrack holds.
      const cell = page.locator(`#streams-table tr[data-stream="${s.stream}"][data-project-id="${s.project_id ?? ''}"] .count`);
      assert.strictEqual((await cell.textContent()).replace(/,/g, ''), String(want.count));
    }
    await phone('09-synced');
  });

  await t.test('9: the integration details page', async () => {
    await page.goto(`${server.url}/clients/${client.id}/procore`);
    await page.waitForSelector('#details:not([hidden])');
    await page.waitForSelector('#streams-table tbody tr');
    assert.match(await page.textContent('#connection-facts'), new RegExp(company.name));
    assert.ok(!(await page.content()).includes(app.client_secret));
    // KTrack's own requests this hour, and the spike limit the emulator's headers reported; not rate limited.
    assert.match(await page.textContent('#api-usage'), /^[\d,]+ requests in the last hour \(Procore allows [\d,]+ per 10 s\)$/);
    await page.waitForSelector('#permissions-grid td[data-status]');
    await h.screenshot(page, 'wizard-10-details');
    await phone('10-details', `${server.url}/clients/${client.id}/procore`);

    // Procore changes RFIs while its webhooks cannot reach KTrack; Reconcile now brings KTrack back to truth
    // without waiting for the hourly reconciliation.
    await emulator.control('PUT', '/_emulator/faults', { webhook_failure_rate: 1 });
    await emulator.control('POST', `/_emulator/companies/${company.id}/changes`, { count: 25, streams: ['rfis'], seed: 5 });
    const atTruth = async () => {
      const held = await page.evaluate(async (id) => (await fetch(`/api/v1/clients/${id}/procore/streams`)).json(), client.id);
      const truth = await emulator.control('GET', `/_emulator/truth?company_id=${company.id}`);
      const want = new Map(truth.streams.map((s) => [`${s.stream}:${s.project_id ?? ''}`, s.checksum]));
      return held.every((s) => s.status === 'paused' || want.get(`${s.stream}:${s.project_id ?? ''}`) === s.checksum);
    };
    assert.strictEqual(await atTruth(), false, 'the changes did not reach KTrack by webhook');
    await page.click('#reconcile-now');
    await page.waitForSelector('#reconcile-result:not([hidden])');
    assert.match(await page.textContent('#reconcile-result'), /^Reconciling \d+ streams: /);
    await page.waitForSelector('#audit-table tr[data-action="integration.reconcile_requested"]');
    await h.screenshot(page, 'wizard-10b-reconcile');
    await h.waitFor(atTruth, { what: 'every stream back at the emulator\'s truth after Reconcile now' });
    await emulator.control('PUT', '/_emulator/faults', { webhook_failure_rate: 0 });

    // A new webhook secret: Procore's hook gets it at once, and the deliveries below carry it.
    await page.click('#rotate-webhook-secret');
    await page.waitForSelector('#rotate-result:not([hidden])');
    assert.match(await page.textContent('#rotate-result'), /^A new webhook secret is in use/);
    await page.waitForSelector('#audit-table tr[data-action="integration.webhook_hook_updated"]');
    assert.match(await page.textContent('#webhook-secret'), /KTrack keeps it encrypted/);

    // With webhooks reaching KTrack again (with the new secret), Procore's next changes arrive by webhook alone,
    // and the Webhooks card lists the events received and what KTrack did with each.
    await emulator.control('POST', `/_emulator/companies/${company.id}/changes`, { count: 5, streams: ['rfis'], seed: 6 });
    await h.waitFor(atTruth, { what: 'the changes to reach KTrack by webhook' });
    await page.reload();
    await page.waitForSelector('#received-table tbody tr[data-outcome]');
    assert.match(await page.textContent('#received-summary'), /^Of the last \d+ events? KTrack received: \d+ processed/);
    assert.match(await page.textContent('#received-table tbody'), /RFIs (create|update|delete) · #\d+/);
    await h.screenshot(page, 'wizard-10c-received-events');

    // Each stream opens the records KTrack holds for it: here the company's users.
    const companyGroup = page.locator('#streams-table tr[data-group-head=""] button');
    if ((await companyGroup.getAttribute('aria-expanded')) !== 'true') await companyGroup.click();
    await page.click('#streams-table tr[data-stream="company_users"] button');
    await page.waitForSelector('#records-table tbody tr[data-procore-id]');
    assert.strictEqual(await page.textContent('#records-title'), 'Company users in KTrack');
    const users = await page.evaluate(async (id) => (await fetch(`/api/v1/clients/${id}/procore/records?stream=company_users&per_page=25`)).json(), client.id);
    assert.strictEqual(await page.locator('#records-table tbody tr').count(), users.records.length);
    const user = users.records[0].record;
    assert.strictEqual(await page.locator('#records-table tbody tr td:nth-child(2)').first().textContent(), `${user.name}${user.email_address || ''}`);
    // Users have neither a number nor a status: those columns are left out.
    assert.ok(await page.isHidden('#records-table th:nth-child(1)'));
    assert.ok(await page.isHidden('#records-table th:nth-child(3)'));
    await h.screenshot(page, 'wizard-10d-company-users');
    await page.click('#close-records');

    // Replacing the secret verifies it against the company before it is used; the audit log says who did it.
    await page.click('#replace-secret');
    await page.fill('#new_client_secret', app.client_secret);
    await page.click('#replace-secret-form button[type=submit]');
    await page.waitForSelector('#replace-secret-form', { state: 'hidden' });
    await page.waitForSelector('#audit-table tr[data-action="integration.credentials_replaced"]');
    assert.ok(!(await page.content()).includes(app.client_secret));

    // Editing the settings re-checks the permissions and keeps the integration running.
    await page.click('#edit-settings');
    await page.uncheck('input[name=domain][value=daily_logs]');
    await page.selectOption('#webhook_payload_version', 'v4.0');
    const saves = await page.locator('#audit-table tr[data-action="integration.settings_saved"]').count();
    await page.click('#save-settings');
    await page.waitForSelector('#settings-editor', { state: 'hidden' });
    await page.waitForFunction((n) => document.querySelectorAll('#audit-table tr[data-action="integration.settings_saved"]').length > n, saves);
    assert.doesNotMatch(await page.textContent('#settings-summary'), /Daily logs/);
    // What the save changes is said beside the settings.
    assert.match(await page.textContent('#settings-saved'),
      /^Saved at \d\d:\d\d\. No longer syncing: Daily logs\. KTrack keeps the records it has, paused, .* switched to the v4\.0 payload\. KTrack is updating its webhook triggers in Procore\.$/);
    assert.match(await page.textContent('#settings-summary'), /Webhook payload: v4\.0/);
    // Procore's hook sends v4.0 events from now on.
    await h.waitFor(async () => (await page.evaluate(async (id) =>
      (await (await fetch(`/api/v1/clients/${id}/procore`)).json()).webhooks.api_version, client.id)) === 'v4.0',
    { what: 'the hook on the v4.0 payload' });
    // The save checked the permissions itself; the page shows that check, not a refusal to check again.
    assert.strictEqual(await page.locator('#permissions-card [data-role=error]:visible').count(), 0,
      await page.textContent('#permissions-card'));
    await h.screenshot(page, 'wizard-11-details-edited');
  });

  await t.test('10: the Procore projects: unlink one, link it again, its streams sync', async () => {
    await page.goto(`${server.url}/clients/${client.id}/procore/projects`);
    const row = (id) => page.locator(`#projects-table tr[data-project-id="${id}"]`);
    await row(p1).waitFor();
    assert.strictEqual(await page.locator('#projects-table tr[data-project-id]').count(), company.project_ids.length);
    const linkedTo = async () => (await page.evaluate(async (id) => (await fetch(`/api/v1/clients/${id}/procore/projects?per_page=100`)).json(), client.id))
      .find((p) => p.id === p1).linked_ktrack_project_id;
    const before = await linkedTo();
    await row(p1).locator('button:has-text("Unlink")').click();
    await row(p1).locator('form.unlink-confirm button[type=submit]').click();
    await row(p1).locator('button:text-is("Link")').waitFor();
    assert.match(await row(p1).textContent(), /Not linked/);
    // Linking it again offers the KTrack project it left (no second KTrack project of the same name).
    assert.strictEqual(await row(p1).locator('select.link-target').inputValue(), String(before));
    await row(p1).locator('button:text-is("Link")').click();
    await page.waitForSelector(`tr[data-result-for="${p1}"] .alert.ok`);
    assert.strictEqual(await linkedTo(), before, 'linked again to the KTrack project it left');
    // Its streams of the chosen settings sync again to the emulator's truth (Daily logs, unticked above, stay paused).
    const projectStreams = async () => (await page.evaluate(async (id) => (await fetch(`/api/v1/clients/${id}/procore/streams`)).json(), client.id))
      .filter((s) => s.project_id === p1 && s.status !== 'paused');
    await h.waitFor(async () => { const list = await projectStreams(); return list.length > 0 && list.every((s) => s.status === 'synced'); },
      { timeoutMs: 120000, what: 'the linked project\'s streams to sync' });
    const truth = await emulator.control('GET', `/_emulator/truth?company_id=${company.id}`);
    assert.ok((await projectStreams()).length > 0);
    for (const s of await projectStreams()) {
      const want = truth.streams.find((x) => x.stream === s.stream && x.project_id === p1);
      assert.strictEqual(s.checksum, want.checksum, `${s.stream} on the relinked project`);
    }
    await h.screenshot(page, 'wizard-12-projects');
    await phone('12-projects', `${server.url}/clients/${client.id}/procore/projects`);
  });

  await t.test('10b: unlink that project, link another to the existing KTrack project it leaves free', async () => {
    const row = (id) => page.locator(`#projects-table tr[data-project-id="${id}"]`);
    const apiGet = (path) => page.evaluate(async ([id, rest]) => (await fetch(`/api/v1/clients/${id}/procore${rest}`)).json(), [client.id, path]);
    const linkedTo = async (id) => (await apiGet('/projects?per_page=100')).find((p) => p.id === id).linked_ktrack_project_id;
    const freed = await linkedTo(p1);
    await row(p1).locator('button:has-text("Unlink")').click();
    await row(p1).locator('form.unlink-confirm button[type=submit]').click();
    await row(p1).locator('button:text-is("Link")').waitFor();
    // The second project leaves its own KTrack project, then takes the one the first left free.
    await row(p2).locator('button:has-text("Unlink")').click();
    await row(p2).locator('form.unlink-confirm button[type=submit]').click();
    await row(p2).locator('button:text-is("Link")').waitFor();
    const free = (await apiGet('/ktrack-projects')).filter((k) => k.procore_project_id === null);
    assert.ok(free.some((k) => k.id === freed), 'the first project\'s KTrack project is free to link');
    await row(p2).locator('select.link-target').selectOption(String(freed));
    await h.screenshot(page, 'wizard-12b-link-existing-choice');
    await row(p2).locator('button:text-is("Link")').click();
    await page.waitForSelector(`tr[data-result-for="${p2}"] .alert.ok`);
    assert.strictEqual(await linkedTo(p2), freed, 'linked to the existing KTrack project, not a new one');
    const name = free.find((k) => k.id === freed).name;
    assert.ok((await row(p2).textContent()).includes(name));
    const streams = async () => (await apiGet('/streams')).filter((s) => s.project_id === p2 && s.status !== 'paused');
    await h.waitFor(async () => { const list = await streams(); return list.length > 0 && list.every((s) => s.status === 'synced'); },
      { timeoutMs: 120000, what: 'the second project\'s streams to sync' });
    const truth = await emulator.control('GET', `/_emulator/truth?company_id=${company.id}`);
    for (const s of await streams()) {
      const want = truth.streams.find((x) => x.stream === s.stream && x.project_id === p2);
      assert.strictEqual(s.checksum, want.checksum, `${s.stream} on the project linked to an existing KTrack project`);
    }
    await page.reload();
    await row(p2).waitFor();
    await h.screenshot(page, 'wizard-12c-linked-existing');
    // The KTrack project's own page: the Procore project linked to it and that project's streams.
    await row(p2).locator(`a[href$="/projects/${freed}"]`).click();
    await page.waitForSelector('#ktrack-streams-table tbody tr[data-stream]');
    assert.strictEqual(await page.textContent('#ktrack-project-name'), name);
    assert.strictEqual(await page.getAttribute('[data-procore-project-id]', 'data-procore-project-id'), String(p2));
    const shown = await page.locator('#ktrack-streams-table tbody tr[data-stream]').count();
    assert.strictEqual(shown, (await apiGet('/streams')).filter((s) => s.project_id === p2).length);
    assert.ok(await page.locator('#ktrack-streams-table tr[data-status="synced"]').count() > 0);
    // Reconcile this project: only its own streams are asked, and the audit log names the project.
    await page.click('#reconcile-project');
    await page.waitForSelector('#reconcile-result:not([hidden])');
    const live = (await apiGet('/streams')).filter((s) => s.project_id === p2 && s.status !== 'paused').length;
    assert.strictEqual(await page.textContent('#reconcile-result'),
      `Reconciling this project’s ${live} stream${live === 1 ? '' : 's'} with Procore: any difference is repaired.`);
    const asked = (await apiGet('/audit')).find((e) => e.action === 'integration.reconcile_requested');
    assert.deepStrictEqual(asked.detail, { project_id: p2, streams: live });
    await h.screenshot(page, 'wizard-12d-ktrack-project');

    // The project's RFIs as KTrack holds them: a page at a time, each with its number, subject and status.
    await page.click('#ktrack-streams-table tr[data-stream="rfis"] button');
    await page.waitForSelector('#records-table tbody tr[data-procore-id]');
    const held = await apiGet(`/records?stream=rfis&project_id=${p2}&per_page=25`);
    assert.ok(held.total > 0, 'the project has RFIs');
    assert.strictEqual(await page.textContent('#records-title'), 'RFIs in KTrack');
    assert.strictEqual(await page.textContent('#records-summary'), `${held.total.toLocaleString('en-US')} records synced from Procore, as Procore last sent them.`);
    const cells = await page.locator('#records-table tbody tr').first().locator('td').allTextContents();
    assert.deepStrictEqual([cells[0], cells[1], cells[4]],
      [String(held.records[0].record.number), held.records[0].record.subject, String(held.records[0].procore_id)]);
    assert.strictEqual(await page.locator('#records-table tbody tr').count(), held.records.length);
    if (held.total > 25) {
      await page.click('#records-pager button:has-text("Next")');
      await page.waitForSelector(`#records-table tbody tr[data-procore-id="${(await apiGet(`/records?stream=rfis&project_id=${p2}&per_page=25&page=2`)).records[0].procore_id}"]`);
    }
    await h.screenshot(page, 'wizard-12e-records');
    // Reconcile just this stream from its records.
    await page.click('#reconcile-records');
    await page.waitForSelector('#records-reconcile-result:not([hidden])');
    assert.match(await page.textContent('#records-reconcile-result'), /^Reconciling RFIs with Procore/);
    const askedOne = (await apiGet('/audit')).find((e) => e.action === 'integration.reconcile_requested');
    assert.deepStrictEqual(askedOne.detail, { stream: 'rfis', project_id: p2, streams: 1 });

    // The client's home counts its KTrack projects and links to each one's page.
    const ktrackProjects = await apiGet('/ktrack-projects');
    await page.goto(`${server.url}/clients/${client.id}`);
    assert.strictEqual(await page.textContent('#home-projects-count'),
      `${ktrackProjects.length} KTrack project${ktrackProjects.length === 1 ? '' : 's'}.`);
    const items = (await page.locator('#home-projects li').allTextContents()).map((t) => t.replace(/\s+/g, ' ').trim());
    assert.strictEqual(items.length, Math.min(8, ktrackProjects.length));
    // The project linked to another Procore project names it; one linked to its namesake says so.
    const other = ktrackProjects.find((k) => k.id === freed).procore_project_name;
    assert.ok(other !== name && items.includes(`${name} · Procore: ${other}`), items.join(' | '));
    assert.ok(items.some((t) => t.endsWith(' · linked to Procore')), items.join(' | '));
    assert.match(await page.textContent('[data-role=streams]'), /^\d+ of \d+ streams synced$/);
    await h.screenshot(page, 'wizard-12f-client-home');
    await page.click(`#home-projects a[href$="/projects/${freed}"]`);
    await page.waitForSelector('#ktrack-streams-table tbody tr[data-stream]');
    assert.strictEqual(await page.textContent('#ktrack-project-name'), name);
  });

  await t.test('Disconnect keeps the synced data when asked to', async () => {
    await page.goto(`${server.url}/clients/${client.id}/procore`);
    await page.waitForSelector('#details:not([hidden])');
    await page.click('#disconnect');
    await page.check('input[name=purge_data][value=keep]');
    await h.screenshot(page, 'wizard-13-disconnect-confirm');
    await page.click('#confirm-disconnect');
    await page.waitForSelector('#not-connected:not([hidden])');
    assert.strictEqual(await page.getAttribute('#integration-status', 'data-status'), 'disconnected');
    // The data was kept (the default); the admin deletes it later from the same page.
    await page.waitForSelector('#kept-data:not([hidden])');
    assert.match(await page.textContent('#kept-data-summary'), /^KTrack kept [\d,]+ records in \d+ streams/);
    await page.click('#delete-kept-data');
    await h.screenshot(page, 'wizard-14-delete-kept-data');
    await page.click('#confirm-delete-kept');
    await page.waitForSelector('#kept-data', { state: 'hidden' });
    const left = await page.evaluate(async (id) => (await fetch(`/api/v1/clients/${id}/procore/streams`)).json(), client.id);
    assert.deepStrictEqual(left, [], 'no stream or record is left');
  });

  assert.deepStrictEqual(pageErrors, [], 'no script errors in the browser');
});
