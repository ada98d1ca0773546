// The Procore integration pages in the browser: the configuration wizard, the integration details and the
// Procore projects, driven through KTrack's JSON API (/api/v1/clients/{id}/procore). No framework, no build step.
'use strict';
(() => {
  const root = document.getElementById('procore-app');
  if (!root) return;

  const clientId = root.dataset.clientId;
  const csrf = root.dataset.csrf;
  const catalog = JSON.parse(root.dataset.catalog || '{}');
  const base = `/api/v1/clients/${clientId}/procore`;
  const $ = (sel, scope = document) => scope.querySelector(sel);
  const $$ = (sel, scope = document) => Array.from(scope.querySelectorAll(sel));

  // ---------------------------------------------------------------------------------------------------------
  // Plumbing: the API, elements, errors, formatting.

  class ApiError extends Error {
    constructor(status, body) {
      const e = (body && body.error) || {};
      super(e.message || `KTrack answered ${status}.`);
      this.status = status;
      this.code = e.code || 'http_' + status;
      this.fix = e.fix || '';
      this.body = body;
    }
  }

  // Calls the integration's JSON API; resolves to the parsed answer ({data, headers} with withHeaders).
  async function api(method, path, body, { withHeaders = false } = {}) {
    const options = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      options.headers['X-CSRF-Token'] = csrf;
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body || {});
    }
    let response;
    try {
      response = await fetch(base + path, options);
    } catch (_) {
      throw new ApiError(0, { error: { code: 'network', message: 'KTrack could not be reached.',
                                       fix: 'Check your connection, then try again.' } });
    }
    const text = await response.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
    if (response.status === 401) {
      throw new ApiError(401, { error: { code: 'unauthenticated', message: 'Your session has ended.',
                                         fix: 'Reload the page and sign in again.' } });
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return withHeaders ? { data, headers: response.headers } : data;
  }

  // el('div', {class: 'x', text: 'y'}, child...): text always goes in as text, never as HTML.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
    return e;
  }

  // Replaces a node's children; null, undefined and false children are left out (replaceChildren would print them).
  function fill(node, ...children) {
    node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  }

  // fill() for a list that refreshes itself: an old child stays in place wherever its new version (same data-key)
  // would be identical, so a periodic refresh never swaps a button out from under a click (mouse down on the old
  // one, up on the new one, is no click) or closes a select the user has open.
  function fillKeyed(node, ...children) {
    const fresh = children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
    const old = new Map();
    for (const c of node.children) if (c.dataset.key) old.set(c.dataset.key, c);
    let cursor = node.firstChild;
    for (const c of fresh) {
      const prev = c.dataset && c.dataset.key ? old.get(c.dataset.key) : null;
      const keep = prev && prev.outerHTML === c.outerHTML ? prev : c;
      if (keep === cursor) { cursor = cursor.nextSibling; continue; }
      node.insertBefore(keep, cursor);
    }
    while (cursor) { const next = cursor.nextSibling; cursor.remove(); cursor = next; }
  }

  function show(node, visible) { if (node) node.hidden = !visible; }

  function showError(box, err) {
    if (!box) return;
    if (!err) { box.hidden = true; fill(box); return; }
    fill(box, el('strong', { text: err.message }), err.fix ? el('div', { class: 'fix', text: err.fix }) : null);
    box.dataset.code = err.code || '';
    box.hidden = false;
  }

  const errorBox = (scope) => $('[data-role=error]', scope);

  // Runs an action with its button disabled and a busy label, so a double click never sends twice.
  async function busy(button, label, action) {
    const before = button ? button.textContent : '';
    if (button) { button.disabled = true; button.textContent = label; button.classList.add('busy'); }
    try { return await action(); } finally {
      // The action may have relabelled the button ("Verify permissions" becomes "Re-verify"): keep that.
      if (button) {
        button.disabled = false;
        if (button.textContent === label) button.textContent = before;
        button.classList.remove('busy');
      }
    }
  }

  const LEVEL_LABELS = { none: 'None', read_only: 'Read Only', standard: 'Standard', admin: 'Admin' };
  const levelLabel = (level) => LEVEL_LABELS[level] || (level ? String(level) : 'None');
  const streamLabel = (key) => (catalog.stream_labels || {})[key] || key;
  const number = (n) => (n === null || n === undefined ? '…' : Number(n).toLocaleString('en-US'));
  // "1 stream", "1,204 records".
  const count = (n, noun) => `${number(n)} ${noun}${n === 1 ? '' : 's'}`;

  // "14:05", in the browser's time zone.
  const clock = (d) => d.toLocaleTimeString('en-GB', { hour: '2-digit', minute: '2-digit' });

  function parseTime(t) {
    if (t === null || t === undefined || t === '') return null;
    if (typeof t === 'number') return new Date(t > 1e12 ? t : t * 1000);
    const d = new Date(t);
    return isNaN(d) ? null : d;
  }

  function ago(t) {
    const d = parseTime(t);
    if (!d) return '—';
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    if (s < 10) return 'just now';
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return d.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric' });
  }

  function when(t) {
    const d = parseTime(t);
    return d ? d.toLocaleString('en-GB', { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }) : '—';
  }

  // Previous / "Page n of m" / Next under a paged list, shown when there is more than one page; go(page) loads
  // the page asked for.
  function renderPager(node, page, pages, go) {
    fill(node,
      el('button', { class: 'btn secondary small-btn', type: 'button', disabled: page <= 1, text: '‹ Previous', onclick: () => go(page - 1) }),
      el('span', { text: ` Page ${page} of ${pages} ` }),
      el('button', { class: 'btn secondary small-btn', type: 'button', disabled: page >= pages, text: 'Next ›', onclick: () => go(page + 1) }));
    show(node, pages > 1);
  }

  function duration(seconds) {
    if (!isFinite(seconds) || seconds < 0) return '';
    if (seconds < 5) return 'a few seconds';
    if (seconds < 60) return `${Math.round(seconds / 5) * 5} s`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
    return `${(seconds / 3600).toFixed(1)} h`;
  }

  const STATUS_LABELS = {
    not_started: 'Not connected', credentials_saved: 'Credentials saved', credentials_verified: 'Credentials verified',
    configured: 'Settings saved', permissions_verified: 'Ready to complete', completing: 'Syncing',
    active: 'Active', error: 'Needs attention', disconnected: 'Disconnected',
  };
  const STATUS_BADGE = {
    active: 'ok', completing: 'syncing', error: 'error', permissions_verified: 'ok', disconnected: '',
  };
  const CHECK_LABELS = { ok: 'OK', missing: 'Missing', tool_disabled: 'Tool disabled', project_not_permitted: 'Not permitted' };
  // The grid's cells: short, so a dozen tools fit beside each other.
  const CHECK_SHORT = { ok: '✓', missing: 'Missing', tool_disabled: 'Disabled', project_not_permitted: 'No access' };
  const STREAM_STATUS_LABELS = {
    synced: 'Synced', syncing: 'Syncing', pending: 'Pending', rate_limited: 'Rate limited', error: 'Error',
    paused: 'Paused', queued: 'Queued',
  };
  const ENVIRONMENTS = {
    production: 'Production', sandbox: 'Developer Sandbox', monthly_sandbox: 'Monthly Sandbox', custom: 'Custom URLs',
  };

  // The integration's status; a running one that waits on the customer (Procore refuses the app, a permission
  // went missing: its last_error) says Needs attention.
  function statusBadge(integration) {
    const b = $('#integration-status');
    if (!b) return;
    const status = integration.status;
    const attention = status === 'active' && !!integration.last_error;
    b.textContent = attention ? 'Needs attention' : STATUS_LABELS[status] || status;
    b.className = 'badge ' + (attention ? 'warn' : STATUS_BADGE[status] !== undefined ? STATUS_BADGE[status] : 'warn');
    b.dataset.status = status;
    b.hidden = false;
  }

  function nextAction(text, link) {
    const p = $('#next-action');
    if (!p) return;
    fill(p, text, link ? ' ' : '', link ? el('a', { href: link.href, text: link.text }) : '');
  }

  // ---------------------------------------------------------------------------------------------------------
  // What the integration answers, read defensively: the API may add fields, never rename them.

  const state = { integration: null, projects: null, requirements: null, checks: null, streamsSeen: new Map() };

  // GET / answers credentials {client_id, client_secret (masked), uses_marketplace_app, verified_at} and the
  // environment (with login_url and api_url for custom URLs) beside them.
  function credentialsOf(integration) {
    const c = integration.credentials || {};
    return {
      clientId: c.client_id || '',
      secretMasked: c.client_secret || '',
      environment: integration.environment || '',
      loginUrl: integration.login_url || '',
      apiUrl: integration.api_url || '',
      verifiedAt: c.verified_at || null,
      marketplace: !!c.uses_marketplace_app,
      saved: !!integration.credentials,
    };
  }

  function settingsOf(integration) {
    const s = integration.settings || {};
    return {
      domains: Array.isArray(s.domains) ? s.domains : null,
      autoLink: !!s.auto_link_projects,
      reconcile: s.reconcile_interval_s || catalog.default_reconcile_interval_s || 3600,
      payloadVersion: s.webhook_payload_version === 'v4.0' ? 'v4.0' : 'v2.0',
      saved: Array.isArray(s.domains),
    };
  }

  const companyOf = (integration) => integration.company && integration.company.id ? integration.company : null;

  async function loadIntegration() {
    state.integration = await api('GET', '/');
    return state.integration;
  }

  async function loadProjects() {
    if (state.projects) return state.projects;
    try {
      const answer = await api('GET', '/projects?per_page=1000');
      state.projects = Array.isArray(answer) ? answer : (answer && (answer.projects || answer.items)) || [];
    } catch (_) {
      state.projects = [];  // names are a nicety here: ids still read well enough
    }
    return state.projects;
  }

  // A project as the page names it: the name an answer carries, else the one GET /projects lists, else its id.
  function projectName(id, nameFromAnswer) {
    if (id === null || id === undefined) return 'Company';
    if (nameFromAnswer) return nameFromAnswer;
    const p = (state.projects || []).find((x) => String(x.id) === String(id));
    return p ? p.name || p.display_name : `Project ${id}`;
  }

  // Labels for the projects a list shows ([id, name from the answer] pairs): two Procore projects of one name
  // (phases, a re-bid) say their project numbers too.
  function projectLabels(pairs) {
    const names = new Map(pairs.map(([id, name]) => [String(id), projectName(id, name)]));
    const uses = new Map();
    for (const name of names.values()) uses.set(name, (uses.get(name) || 0) + 1);
    return (id) => {
      const name = names.get(String(id)) || projectName(id);
      if (id === null || id === undefined || id === '' || uses.get(name) < 2) return name;
      const p = (state.projects || []).find((x) => String(x.id) === String(id));
      return `${name} (${(p && p.project_number) || `#${id}`})`;
    };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Settings: the form, the live "Procore tools this needs" table, the summary.

  function readSettingsForm(form) {
    const domains = $$('input[name=domain]', form).filter((i) => i.checked && !i.disabled).map((i) => i.value);
    return {
      domains,
      auto_link_projects: $('#auto_link_projects', form).checked,
      reconcile_interval_s: Number($('#reconcile_interval_s', form).value),
      webhook_payload_version: $('#webhook_payload_version', form).value,
    };
  }

  function fillSettingsForm(form, settings) {
    if (settings.domains) {
      for (const i of $$('input[name=domain]', form)) if (!i.disabled) i.checked = settings.domains.includes(i.value);
    }
    $('#auto_link_projects', form).checked = settings.autoLink;
    const select = $('#reconcile_interval_s', form);
    if (![...select.options].some((o) => Number(o.value) === Number(settings.reconcile))) {
      select.append(el('option', { value: settings.reconcile, text: `Every ${duration(settings.reconcile)}` }));
    }
    select.value = String(settings.reconcile);
    $('#webhook_payload_version', form).value = settings.payloadVersion;
  }

  // Procore's levels in order, as the API spells them ("Read Only") and as the emulator does ("read_only").
  const LEVEL_RANK = { none: 0, None: 0, read_only: 1, 'Read Only': 1, standard: 2, Standard: 2, admin: 3, Admin: 3 };

  // The least level per (scope, tool) for the chosen domains, from the catalog the server embeds.
  function previewRequirements(domains) {
    const need = new Map();
    for (const d of catalog.domains || []) {
      if (d.key !== 'projects' && !domains.includes(d.key)) continue;
      for (const t of d.tools) {
        const key = t.scope + '\u0000' + t.tool;
        const prev = need.get(key);
        if (!prev || LEVEL_RANK[t.level] > LEVEL_RANK[prev.level]) need.set(key, { ...t });
      }
    }
    return [...need.values()];
  }

  function sortRequirements(list) {
    return [...list].sort((a, b) => (a.scope === b.scope ? 0 : a.scope === 'company' ? -1 : 1));
  }

  function renderRequirements(form, list, confirmed) {
    const tbody = $('#requirements-table tbody', form);
    fill(tbody, ...sortRequirements(list).map((r) => el('tr', { 'data-scope': r.scope, 'data-tool': r.tool },
      el('td', { text: r.scope === 'company' ? 'Company' : 'Project' }),
      el('td', {}, el('strong', { text: r.tool })),
      el('td', { text: levelLabel(r.level) }))));
    $('#requirements-source', form).textContent = confirmed
      ? 'What the saved settings need, as KTrack will check it. More is fine.'
      : 'The least each tool needs for the data chosen. More is fine.';
    $('#requirements-table', form).dataset.source = confirmed ? 'server' : 'preview';
  }

  function sameSettings(a, b) {
    return a && b && a.auto_link_projects === b.auto_link_projects && a.reconcile_interval_s === b.reconcile_interval_s &&
      [...a.domains].sort().join() === [...b.domains].sort().join();
  }

  function savedSettingsBody(integration) {
    const s = settingsOf(integration);
    return s.saved ? { domains: s.domains, auto_link_projects: s.autoLink, reconcile_interval_s: s.reconcile } : null;
  }

  // Live table: the server's answer while the form equals the saved settings, the catalog's preview otherwise.
  function refreshRequirements(form) {
    const chosen = readSettingsForm(form);
    const saved = savedSettingsBody(state.integration || {});
    if (state.requirements && sameSettings(chosen, saved)) renderRequirements(form, state.requirements, true);
    else renderRequirements(form, previewRequirements(chosen.domains), false);
  }

  async function loadRequirements() {
    try {
      const answer = await api('GET', '/permissions/requirements');
      state.requirements = Array.isArray(answer) ? answer : (answer && answer.requirements) || null;
    } catch (_) {
      state.requirements = null;
    }
  }

  function settingsSummary(integration) {
    const s = settingsOf(integration);
    if (!s.saved) return el('p', { class: 'small muted', text: 'Not chosen yet.' });
    const labels = (catalog.domains || []).filter((d) => d.key === 'projects' || s.domains.includes(d.key)).map((d) => d.label);
    const interval = $(`#reconcile_interval_s option[value="${s.reconcile}"]`);
    return el('div', { class: 'summary-list' },
      el('div', {}, el('span', { class: 'muted', text: 'Data: ' }), labels.join(', ')),
      el('div', {}, el('span', { class: 'muted', text: 'New projects: ' }),
         s.autoLink ? 'linked automatically' : 'linked by hand'),
      el('div', {}, el('span', { class: 'muted', text: 'Reconciliation: ' }),
         interval ? interval.textContent.toLowerCase() : `every ${duration(s.reconcile)}`),
      el('div', {}, el('span', { class: 'muted', text: 'Webhook payload: ' }), s.payloadVersion));
  }

  // After a running integration's settings are saved: what changes now, said beside the settings, in view.
  function settingsSaved(before, after) {
    const note = $('#settings-saved');
    if (!note || !before.saved || !after.saved) return;
    const domain = (key) => (catalog.domains || []).find((d) => d.key === key) || { label: key, tools: [] };
    const label = (key) => domain(key).label;
    const projectLevel = (key) => (domain(key).tools || []).some((t) => t.scope === 'project');
    const added = after.domains.filter((d) => !before.domains.includes(d));
    const removed = before.domains.filter((d) => !after.domains.includes(d));
    const parts = [];
    if (added.length) {
      parts.push(`Now syncing too: ${listWords(added.map(label))}` +
        (added.some(projectLevel) ? ' (on the linked projects).' : '.'));
    }
    if (removed.length) {
      parts.push(`No longer syncing: ${listWords(removed.map(label))}. KTrack keeps the records it has, paused, ` +
        'and syncs them again if you choose them again.');
    }
    if (before.payloadVersion !== after.payloadVersion) {
      parts.push(`Procore’s hook is being switched to the ${after.payloadVersion} payload.`);
    }
    if (before.autoLink !== after.autoLink) {
      parts.push(after.autoLink ? 'New Procore projects are linked automatically.' : 'New Procore projects wait for you to link them.');
    }
    if (added.length || removed.length) parts.push('KTrack is updating its webhook triggers in Procore.');
    note.textContent = `Saved at ${clock(new Date())}. ${parts.join(' ')}`.trim();
    show(note, true);
    const card = $('#settings-card');
    if (card && card.getBoundingClientRect().top < 0) card.scrollIntoView({ block: 'start' });
  }

  function wireSettingsForm(form, onSave) {
    form.addEventListener('change', () => refreshRequirements(form));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const box = errorBox(form);
      showError(box, null);
      const body = readSettingsForm(form);
      const company = companyOf(state.integration || {});
      if (company) body.company_id = company.id;
      await busy($('#save-settings', form), 'Saving…', async () => {
        try {
          const before = settingsOf(state.integration || {});
          await api('PUT', '/settings', body);
          await loadIntegration();
          await loadRequirements();
          refreshRequirements(form);
          await onSave(before);
        } catch (err) {
          showError(box, err);
        }
      });
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Permissions: the grid (scope × tool) and the fixes, grouped so 40 projects missing one tool read as one line.

  // The failed checks grouped by (scope, tool, status): 40 projects missing one tool read as one thing to fix.
  // A project outside the app's permitted projects fails every tool for one reason, so those group by status.
  // A project outside the permitted projects that KTrack does not link (auto-link off) is shown, not failed.
  const isFailure = (c) => c.status !== 'ok' && c.needed !== false;
  const isLeftOut = (c) => c.status !== 'ok' && c.needed === false;

  function failureGroups(result) {
    const groups = new Map();
    for (const c of ((result && result.checks) || []).filter(isFailure)) {
      const key = [c.scope, c.status === 'project_not_permitted' ? '' : c.tool, c.status].join('\u0000');
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(c);
    }
    return [...groups.values()];
  }

  // "A, B and C".
  function listWords(words) {
    return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
  }

  // "on 25 of 40 projects": a large company is sampled, and the page says so.
  function coverage(result) {
    const checked = result.projects_checked, total = result.projects_total;
    if (!total) return '';
    return checked < total ? ` (company and ${checked} of ${total} projects)` : ` (company and ${total} project${total > 1 ? 's' : ''})`;
  }

  function renderPermissions(scope, result) {
    const checks = (result && result.checks) || [];
    state.checks = result;
    const failures = checks.filter(isFailure);
    const passed = checks.filter((c) => c.status === 'ok').length;
    const status = $('#permissions-status', scope);
    // Procore refuses the app now (the page's alert says why): a passing check is only history.
    const refusal = (state.integration && state.integration.last_error) || {};
    const refused = ['invalid_credentials', 'service_account_retired', 'app_not_installed', 'company_not_found'].includes(refusal.code);
    if (!checks.length) {
      fill(status, 'No checks yet.');
    } else if (!failures.length && refused) {
      fill(status, el('span', { class: 'badge warn', text: 'Cannot check now' }),
        ' Procore refuses the app, as the alert at the top of the page says. The last check',
        result.checked_at ? ` (${ago(result.checked_at)})` : '', `: ${passed} checks passed${coverage(result)}.`);
    } else if (!failures.length) {
      fill(status, el('span', { class: 'badge ok', text: 'All permissions OK' }),
        ` ${passed} checks passed${coverage(result)}`, result.checked_at ? `, ${ago(result.checked_at)}.` : '.');
    } else {
      const things = failureGroups(result).length;
      fill(status, el('span', { class: 'badge error', text: `${things} to fix` }),
        ` ${passed} of ${checks.length} checks passed${coverage(result)}. Fix ${things > 1 ? 'these' : 'this'} in Procore, then Re-verify.`);
    }
    $('#verify-permissions', scope).textContent = checks.length ? 'Re-verify' : 'Verify permissions';

    const leftOut = checks.filter(isLeftOut);
    fill($('#permission-fixes', scope), ...failureGroups(result).map((list) => {
      const c = list[0];
      if (c.status === 'project_not_permitted') return notPermittedItem(list);
      const where = c.scope === 'company' ? 'at company level'
        : list.length === 1 ? `on ${projectName(c.project_id, c.project_name)}` : `on ${list.length} projects`;
      const levels = c.status === 'missing' ? ` Needs ${levelLabel(c.required)}, has ${levelLabel(c.actual)}.` : '';
      return el('div', { class: 'fix-item', 'data-status': c.status, 'data-tool': c.tool || '' },
        el('div', {}, el('span', { class: `badge ${c.status}`, text: CHECK_LABELS[c.status] || c.status }), ' ',
           el('strong', { text: c.tool || 'Project access' }), ` ${where}.${levels}`),
        c.fix ? el('div', { class: 'fix', text: c.fix }) : null,
        list.length > 1 ? el('div', { class: 'small muted', text: `The same for ${listWords(list.slice(1).map((x) => projectName(x.project_id, x.project_name)))}.` }) : null);
    }), leftOut.length ? leftOutItem(leftOut) : null);

    // The grid, as two tables so a dozen tools fit: company-level tools, then one row per project.
    fill($('#permissions-grid', scope),
      permissionTable('Company level', checks.filter((c) => c.scope === 'company')),
      permissionTable('Project', checks.filter((c) => c.scope !== 'company')));
    show($('#permissions-grid', scope), checks.length > 0);
  }

  // Each project a list of checks names, once, as the page names it.
  function projectNames(list) {
    const names = [];
    for (const x of list) {
      const name = projectName(x.project_id, x.project_name);
      if (!names.includes(name)) names.push(name);
    }
    return names;
  }

  // Projects outside the permitted projects that KTrack does not link: the customer's choice, said as such.
  function leftOutItem(list) {
    const names = projectNames(list);
    return el('div', { class: 'fix-item info', 'data-status': 'project_not_permitted', 'data-needed': 'false' },
      el('div', {}, el('span', { class: 'badge', text: 'Not linked' }), ' ',
         el('strong', { text: names.length === 1 ? names[0] : count(names.length, 'project') }),
         names.length === 1 ? ' is not one of the app’s permitted projects.' : ' are not among the app’s permitted projects.',
         names.length === 1 ? ' KTrack does not link it, so nothing needs fixing; to sync it, add it to the permitted projects in Procore, then link it.'
           : ' KTrack does not link them, so nothing needs fixing; to sync one, add it to the permitted projects in Procore, then link it.'),
      names.length > 1 ? el('div', { class: 'small muted', text: `They are ${listWords(names)}.` }) : null);
  }

  // The projects outside the app's permitted projects, as one thing to fix.
  function notPermittedItem(list) {
    const names = projectNames(list);
    const c = list[0];
    return el('div', { class: 'fix-item', 'data-status': c.status, 'data-tool': '' },
      el('div', {}, el('span', { class: `badge ${c.status}`, text: CHECK_LABELS[c.status] }), ' ',
         names.length === 1 ? el('strong', { text: names[0] }) : el('strong', { text: count(names.length, 'project') }),
         names.length === 1 ? ' is not one of the app’s permitted projects.' : ' are not among the app’s permitted projects.'),
      c.fix ? el('div', { class: 'fix', text: c.fix }) : null,
      names.length > 1 ? el('div', { class: 'small muted', text: `The same for ${listWords(names.slice(1))}.` }) : null);
  }

  // One table of the grid: a row per scope (the company, or each project), a column per tool.
  function permissionTable(heading, checks) {
    if (!checks.length) return null;
    const tools = [];
    for (const c of checks) if (c.tool && !tools.includes(c.tool)) tools.push(c.tool);
    const rows = new Map();
    for (const c of checks) {
      const key = c.scope === 'company' ? 'company' : String(c.project_id);
      if (!rows.has(key)) rows.set(key, { scope: c.scope, projectId: c.project_id, name: c.project_name, cells: new Map() });
      rows.get(key).cells.set(c.tool || '', c);
    }
    const label = projectLabels([...rows.values()].filter((r) => r.scope !== 'company').map((r) => [r.projectId, r.name]));
    return el('div', { class: 'table-wrap' }, el('table', { class: 'grid' },
      el('thead', {}, el('tr', {}, el('th', { text: heading }), tools.map((t) => el('th', { text: t })))),
      el('tbody', {}, [...rows.values()].map((row) => {
        // A check about the project itself, or every tool refused because the project is not permitted.
        const cells = [...row.cells.values()];
        const whole = row.cells.get('') ||
          (cells.length && cells.every((c) => c.status === 'project_not_permitted') ? cells[0] : null);
        return el('tr', { 'data-scope': row.scope, 'data-project-id': row.projectId ?? '' },
          el('th', { scope: 'row', text: row.scope === 'company' ? 'Company' : label(row.projectId) }),
          whole && (whole.status === 'project_not_permitted' || !tools.some((t) => row.cells.has(t)))
            ? el('td', { colspan: tools.length || 1, 'data-status': whole.status, 'data-needed': String(whole.needed !== false) },
              whole.needed === false
                ? el('span', { class: 'badge', text: 'Not permitted · not linked', title: 'Outside the app’s permitted projects; KTrack does not link it.' })
                : el('span', { class: `badge ${whole.status}`, text: CHECK_LABELS[whole.status] }))
            : tools.map((t) => {
              const c = row.cells.get(t) || (whole && whole.status !== 'ok' ? whole : null);
              if (!c) return el('td', { class: 'na', text: '·', title: 'Not needed here' });
              return el('td', { 'data-tool': t, 'data-status': c.status,
                title: `${t}: needs ${levelLabel(c.required)}, has ${levelLabel(c.actual)}${c.probed ? ' (checked by reading one record)' : ''}` },
                el('span', { class: `badge ${c.status}`, text: CHECK_SHORT[c.status] || c.status, 'aria-label': CHECK_LABELS[c.status] || c.status }));
            }));
      }))));
  }

  // The last permission check GET / carries, when there is one.
  function storedCheck(integration) {
    const p = integration.permissions;
    return p && Array.isArray(p.checks) && p.checks.length ? p : null;
  }

  async function verifyPermissions(scope) {
    const box = errorBox(scope);
    showError(box, null);
    return busy($('#verify-permissions', scope), 'Checking…', async () => {
      try {
        await loadProjects();
        const result = await api('POST', '/permissions/verify', {});
        renderPermissions(scope, result);
        await loadIntegration();
        return result;
      } catch (err) {
        showError(box, err);
        return null;
      }
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Streams: the progress table with counts against Procore's totals and an ETA from the observed rate.

  function streamKey(s) { return `${s.stream}:${s.project_id ?? ''}`; }

  // Records a sample per stream; the ETA is the remaining count over the rate seen since the first sample.
  function etaSeconds(s, now) {
    const key = streamKey(s);
    const seen = state.streamsSeen.get(key);
    if (!seen || s.count < seen.count) { state.streamsSeen.set(key, { t: now, count: s.count || 0 }); return null; }
    const rate = (s.count - seen.count) / Math.max((now - seen.t) / 1000, 0.001);
    if (!(rate > 0) || s.procore_total === null || s.procore_total === undefined) return null;
    return Math.max(s.procore_total - s.count, 0) / rate;
  }

  // Streams in the catalog's order (projects, directory, then each domain's), company first, then by project.
  const STREAM_ORDER = (catalog.domains || []).flatMap((d) => d.streams || []);
  // Groups the admin opened or closed, kept across the polls' re-renders.
  const groupsOpen = new Map();
  const streamRank = (key) => { const i = STREAM_ORDER.indexOf(key); return i < 0 ? STREAM_ORDER.length : i; };

  // The records KTrack holds for a stream (the records panel: _procore_records_panel.mustache), as Procore last
  // sent them, a page at a time; open() shows a stream's first page. Null on pages without the panel.
  const recordsView = (() => {
    const panel = $('#records-panel');
    if (!panel) return null;
    const PER_PAGE = 25;
    const view = { stream: null, projectId: null, page: 1, seq: 0, q: '' };
    const firstOf = (r, keys) => keys.map((k) => r[k]).find((v) => (typeof v === 'string' && v.trim()) || typeof v === 'number');
    // Records can be years old: their date has the year.
    const updatedAt = (iso) => {
      const d = parseTime(iso);
      return d ? d.toLocaleString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' }) : '—';
    };
    async function load() {
      const mine = ++view.seq;
      showError($('#records-error'), null);
      show(panel, true);
      let answer;
      try {
        answer = await api('GET', `/records?stream=${encodeURIComponent(view.stream)}` +
          (view.projectId !== null ? `&project_id=${view.projectId}` : '') + `&page=${view.page}&per_page=${PER_PAGE}` +
          (view.q ? `&q=${encodeURIComponent(view.q)}` : ''));
      } catch (err) {
        if (mine === view.seq) showError($('#records-error'), err);
        return;
      }
      if (mine !== view.seq) return;  // another stream or page was asked for meanwhile
      const pages = Math.max(1, Math.ceil((answer.total || 0) / PER_PAGE));
      $('#records-summary').textContent = view.q
        ? (answer.total ? `${count(answer.total, 'record')} with “${view.q}”.` : `No record has “${view.q}”.`)
        : answer.total ? `${count(answer.total, 'record')} synced from Procore, as Procore last sent them.` : 'None synced yet.';
      const rows = (answer.records || []).map((item) => {
        const r = item.record && typeof item.record === 'object' ? item.record : {};
        const status = typeof r.status === 'object' && r.status ? r.status.name : r.status;
        return { item, number: firstOf(r, ['number', 'full_code', 'invoice_number', 'date']),
          title: firstOf(r, ['title', 'subject', 'name', 'cost_code', 'description', 'notes']),
          email: firstOf(r, ['email_address']), status };
      });
      // A column no record of the stream has (users have no number or status) is left out.
      const table = $('#records-table');
      table.classList.toggle('no-number', rows.every((x) => x.number === undefined));
      table.classList.toggle('no-status', rows.every((x) => !x.status));
      fill($('tbody', table), rows.map(({ item, number: n, title, email, status }) => el('tr', { 'data-procore-id': item.procore_id },
        el('td', { class: 'mono small', text: String(n ?? '—') }),
        el('td', {}, String(title ?? '—'), email ? el('div', { class: 'small muted', text: String(email) }) : null),
        el('td', {}, status ? el('span', { class: 'badge', text: String(status).replace(/_/g, ' ') }) : '—'),
        el('td', { class: 'small', text: updatedAt(item.updated_at) }),
        el('td', { class: 'mono small muted', text: String(item.procore_id) }))));
      renderPager($('#records-pager'), view.page, pages, (page) => { view.page = page; load(); });
    }
    $('#close-records').addEventListener('click', () => { view.seq++; show(panel, false); });
    // Reconcile this one stream now: compared with Procore, any difference repaired; the records show it after.
    wireReconcile($('#reconcile-records'),
      () => (view.projectId !== null ? { stream: view.stream, project_id: view.projectId } : { stream: view.stream }),
      () => `Reconciling ${streamLabel(view.stream)} with Procore: any difference is repaired, and the list below follows.`,
      async () => {
        const asked = view.seq;
        setTimeout(() => { if (view.seq === asked) load(); }, 3000);
      },
      { done: '#records-reconcile-result', error: '#records-error' });
    let typing = null;
    $('#records-q').addEventListener('input', (event) => {
      clearTimeout(typing);
      typing = setTimeout(() => { view.q = event.target.value.trim(); view.page = 1; load(); }, 250);
    });
    return {
      // projectName: shown beside the stream's name for a project's stream (null where the page names the project).
      open(stream, projectId, projectName) {
        Object.assign(view, { stream, projectId: projectId ?? null, page: 1, q: '' });
        show($('#records-reconcile-result'), false);
        $('#records-q').value = '';
        $('#records-title').textContent = `${streamLabel(stream)}${projectName ? ` · ${projectName}` : ''} in KTrack`;
        load();
        panel.scrollIntoView({ block: 'nearest' });
      },
    };
  })();

  // A stream stopped on an error: failing, or paused until a fix in Procore (paused by the settings is not).
  const stoppedOnError = (s) => s.status === 'error' || (s.status === 'paused' && !!s.error);

  function renderStreams(scope, streams) {
    const now = Date.now();
    const groups = new Map();  // project id ('' for the company) → streams
    for (const s of streams) {
      const key = s.project_id === null || s.project_id === undefined ? '' : String(s.project_id);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(s);
    }
    const ordered = [...groups.entries()].sort(([a, x], [b, y]) => (a === '' ? -1 : b === '' ? 1 :
      projectName(a, x[0].project_name).localeCompare(projectName(b, y[0].project_name))));
    // done/total: progress against Procore's last reported totals; held: what KTrack holds (as At a glance
    // counts it), which webhooks can take past a total Procore reported earlier. A stream not read yet has no
    // total (Procore tells it with the first page): `unknown` counts them, so neither the records nor the bar
    // claim a finish while they wait.
    let done = 0, total = 0, held = 0, synced = 0, paused = 0, unknown = 0, etaMax = 0, anyEta = false;
    const rows = [];
    // With many projects, a project whose streams are all synced folds into its one line; so do projects with
    // failing streams when more than a few have them (one cause, such as an uninstalled app, stops them all:
    // the errors below say it once).
    const many = ordered.length > 3;
    const groupLabel = projectLabels(ordered.filter(([key]) => key !== '').map(([key, list]) => [key, list[0].project_name]));
    const failingOf = (list) => list.filter(stoppedOnError).length;
    const groupsFailing = ordered.filter(([, list]) => failingOf(list) > 0).length;
    for (const [key, list] of ordered) {
      list.sort((a, b) => streamRank(a.stream) - streamRank(b.stream));
      // Paused streams (a setting unticked, or waiting for a fix in Procore) keep their data and are not counted.
      const groupPaused = list.filter((s) => s.status === 'paused' && !s.error).length;
      const groupLive = list.length - groupPaused;
      const groupSynced = list.filter((s) => s.status === 'synced').length;
      const groupFailing = failingOf(list);
      const open = groupsOpen.has(key) ? groupsOpen.get(key)
        : !(many && (groupSynced === groupLive || (groupFailing > 0 && groupsFailing > 3)));
      const records = list.reduce((n, s) => n + (s.count || 0), 0);
      const toggle = el('button', { type: 'button', class: 'group-toggle', 'aria-expanded': open ? 'true' : 'false',
        onclick: (e) => {
          const now = e.currentTarget.getAttribute('aria-expanded') !== 'true';
          groupsOpen.set(key, now);
          e.currentTarget.setAttribute('aria-expanded', now ? 'true' : 'false');
          for (const r of $$(`tr[data-group="${CSS.escape(key)}"]`, scope)) r.hidden = !now;
        } },
        el('strong', { text: key === '' ? 'Company' : groupLabel(key) }),
        el('span', { class: 'muted small', text: ` · ${groupSynced} of ${groupLive} synced${groupPaused ? ` · ${groupPaused} paused` : ''} · ${number(records)} records` }),
        groupFailing ? [' ', el('span', { class: 'badge error', text: `${groupFailing} failing` })] : null);
      rows.push(el('tr', { class: 'group', 'data-group-head': key, 'data-key': `g${key}` }, el('th', { colspan: 4, scope: 'rowgroup' }, toggle)));
      for (const s of list) {
        const count = s.count || 0;
        const procoreTotal = s.procore_total ?? null;
        const settled = s.status === 'synced' || (s.status === 'paused' && !s.error);
        done += procoreTotal !== null ? Math.min(count, procoreTotal) : count;
        held += count;
        total += procoreTotal !== null ? procoreTotal : count;
        if (procoreTotal === null && !settled) unknown++;
        if (s.status === 'synced') synced++;
        if (s.status === 'paused' && !s.error) paused++;
        const observed = s.status === 'synced' || s.status === 'error' ? null : etaSeconds(s, now);
        const eta = s.status === 'synced' || s.status === 'error' ? null : (s.eta_s ?? observed);
        if (eta !== null) { anyEta = true; etaMax = Math.max(etaMax, eta); }
        // A stream not read yet shows "…" on its row (its ETA, the whole queue's, is the overall one above).
        const last = s.status === 'synced' ? ago(s.last_synced_at)
          : eta !== null && procoreTotal !== null ? `about ${duration(eta)} left` : s.status === 'error' ? '' : '…';
        rows.push(el('tr', { 'data-stream': s.stream, 'data-project-id': s.project_id ?? '', 'data-status': s.status,
                             'data-group': key, 'data-key': `s${key}:${s.stream}`, hidden: !open },
          el('td', {}, recordsView && $('#records-panel', scope)
            ? el('button', { class: 'link-button', type: 'button', title: 'Show the records KTrack holds',
              onclick: () => recordsView.open(s.stream, s.project_id, key === '' ? null : projectName(key, s.project_name)) }, streamLabel(s.stream))
            : streamLabel(s.stream)),
          el('td', {}, el('span', { class: `badge ${s.status}`, text: STREAM_STATUS_LABELS[s.status] || s.status,
            title: s.status === 'paused' ? 'Not syncing now (not in the settings, or waiting for a fix in Procore); its data is kept.' : null })),
          el('td', { class: 'num' }, el('span', { class: 'count', text: number(count) }),
            el('span', { class: 'muted', text: ` / ${number(procoreTotal)}` })),
          el('td', { class: 'eta-col small muted', text: last })));
      }
    }
    fillKeyed($('#streams-table tbody', scope), ...rows);
    const live = streams.length - paused;
    const all = live > 0 && synced === live;
    const pausedNote = paused ? ` · ${paused} paused` : '';
    $('#sync-overall', scope).textContent = !streams.length ? 'Waiting for the first streams…'
      : all ? `All ${live} streams synced · ${number(held)} records${pausedNote}`
        : unknown ? `${synced} of ${live} streams synced · ${number(done)} records so far${pausedNote}`
          : `${synced} of ${live} streams synced · ${number(done)} of ${number(total)} records${pausedNote}`;
    $('#sync-eta', scope).textContent = all ? '' : anyEta ? ` · about ${duration(etaMax)} left` : '';
    const bar = $('#sync-bar', scope);
    if (!bar.dataset.drawn) bar.classList.add('instant');  // the first drawing shows where things are, unanimated
    // Streams without a total yet are taken to be as large as the average stream whose total is known (one
    // record each before any is known), so the bar fills as the whole sync does rather than as its first streams.
    const known = streams.length - unknown;
    const expected = total + unknown * (known > 0 ? Math.max(total / known, 1) : 1);
    const most = live > 0 ? 99 : 100;  // full only when every stream that syncs has (all paused: nothing to wait for)
    bar.style.width = `${all ? 100 : expected > 0 ? Math.min(most, Math.round((100 * done) / expected)) : 0}%`;
    // Records held are not records current: streams stopped on an error turn the bar red.
    bar.classList.toggle('failing', groupsFailing > 0);
    if (!bar.dataset.drawn) { void bar.offsetWidth; bar.classList.remove('instant'); bar.dataset.drawn = 'true'; }
    return { all, synced, count: live, records: done };
  }

  // Each failure once: streams stopped by the same error (an uninstalled app stops every stream) share one item,
  // which names them under Which streams.
  function renderStreamErrors(box, streams) {
    if (!box) return;
    // Status, code, message and fix → the streams. Messages that differ only by the project they name (a project
    // no longer permitted, each saying which) share one item.
    const same = new Map();
    const unnamed = (text, name) => (name && name.length >= 3 ? text.split(name).join('\u0001') : text);
    for (const s of streams.filter((x) => x.error)) {
      const e = typeof s.error === 'object' ? s.error : { message: String(s.error) };
      const name = s.project_id == null ? '' : projectName(s.project_id, s.project_name);
      const message = unnamed(e.message || '', name), fix = unnamed(e.fix || '', name);
      const key = JSON.stringify([s.status, e.code || '', message, fix]);
      // Named: the item's text is the first project's, and the page lists the others it stands for.
      const named = message !== (e.message || '') || fix !== (e.fix || '');
      if (!same.has(key)) same.set(key, { status: s.status, error: e, streams: [], projects: [], named });
      const group = same.get(key);
      group.streams.push(s);
      if (name && !group.projects.includes(name)) group.projects.push(name);
    }
    const where = (s) => `${streamLabel(s.stream)} (${projectName(s.project_id, s.project_name)})`;
    fill(box, ...[...same.values()].map(({ status, error: e, streams: list, projects, named }) => {
      const badge = el('span', { class: `badge ${status}`, text: STREAM_STATUS_LABELS[status] || status });
      const one = list.length === 1;
      const many = named && projects.length > 1 ? ` in ${number(projects.length)} projects` : '';
      return el('div', { class: 'fix-item', 'data-stream': one ? list[0].stream : null, 'data-code': e.code || null, 'data-streams': list.length },
        el('div', {}, badge, ' ', one ? [el('strong', { text: streamLabel(list[0].stream) }), ` (${projectName(list[0].project_id, list[0].project_name)}): `]
          : [el('strong', { text: `${number(list.length)} streams${many}` }), ': '], e.message || ''),
        e.fix ? el('div', { class: 'fix', text: e.fix }) : null,
        many ? el('div', { class: 'small muted', text: `The same for ${listWords(projects.slice(1))}.` }) : null,
        one ? null : el('details', { class: 'small' }, el('summary', { text: 'Which streams' }),
          el('p', { class: 'muted', text: list.map(where).join(' · ') })));
    }));
  }

  // A Reconcile button: asks for the streams body() names, says what was queued (said(n)) in #reconcile-result,
  // then lets the page follow them (then()); a refusal shows in #reconcile-error with its fix. boxes names other
  // places for the two. A member's page has no reconcile buttons (reconciling is an admin's): nothing to wire.
  function wireReconcile(button, body, said, then, boxes = { done: '#reconcile-result', error: '#reconcile-error' }) {
    if (!button) return;
    button.addEventListener('click', async () => {
      const box = $(boxes.error);
      const done = $(boxes.done);
      showError(box, null);
      show(done, false);
      await busy(button, 'Asking…', async () => {
        try {
          const answer = await api('POST', '/streams/reconcile', body());
          done.textContent = said((answer && answer.queued) || 0);
          show(done, true);
          await then();
        } catch (err) {
          showError(box, err);
        }
      });
    });
  }

  // Polls GET /streams until every stream is synced (then every 15 s on the details page); pauses when hidden.
  function pollStreams(scope, { fastMs, slowMs, onUpdate }) {
    let timer = null;
    let stopped = false;
    let fastUntil = 0;  // hurry(): poll at the fast pace for a while, though every stream shows synced
    async function tick() {
      timer = null;
      if (stopped) return;
      let progress = null;
      try {
        const streams = await api('GET', '/streams');
        const list = Array.isArray(streams) ? streams : (streams && streams.streams) || [];
        progress = renderStreams(scope, list);
        if (onUpdate) await onUpdate(progress, list);
      } catch (err) {
        showError($('#page-error'), err);
      }
      if (stopped) return;
      const delay = progress && progress.all && Date.now() >= fastUntil ? slowMs : fastMs;
      if (delay) timer = setTimeout(tick, document.hidden ? Math.max(delay, 10000) : delay);
    }
    tick();
    return {
      stop() { stopped = true; if (timer) clearTimeout(timer); },
      // Work was just asked for: look again now, and often until it has had time to start and finish.
      hurry(ms = 30000) {
        fastUntil = Date.now() + ms;
        if (timer && !stopped) { clearTimeout(timer); tick(); }
      },
    };
  }

  // ---------------------------------------------------------------------------------------------------------
  // Credentials: the form (environment, custom URLs, client id and secret), Verify, the company picker.

  function credentialsSummary(integration) {
    const c = credentialsOf(integration);
    const company = companyOf(integration);
    return el('dl', { class: 'facts' },
      company ? [el('dt', { text: 'Company' }), el('dd', { class: 'company-name' }, el('strong', { text: company.name }),
                                                      el('span', { class: 'muted', text: ` (${company.id})` }))] : null,
      c.environment ? [el('dt', { text: 'Environment' }), el('dd', { text: ENVIRONMENTS[c.environment] || c.environment })] : null,
      c.environment === 'custom' && c.apiUrl ? [el('dt', { text: 'API URL' }), el('dd', { class: 'mono', text: c.apiUrl })] : null,
      c.marketplace ? [el('dt', { text: 'App' }), el('dd', { text: 'KTrack’s Marketplace app (its credentials are on the KTrack server)' })] : null,
      c.clientId && !c.marketplace ? [el('dt', { text: 'Client ID' }), el('dd', { class: 'mono', text: c.clientId })] : null,
      c.marketplace ? null
        : [el('dt', { text: 'Client Secret' }), el('dd', { class: 'mono secret-masked', text: c.secretMasked || '••••••••' })],
      [el('dt', { text: 'Verified' }), el('dd', { text: c.verifiedAt ? when(c.verifiedAt) : company ? 'yes' : 'not yet' })]);
  }

  // What the admin should know though nothing is wrong (GET /'s warnings): another KTrack client on the same
  // Procore company, say.
  function warningAlerts(integration) {
    return (integration.warnings || []).map((w) => el('div', { class: 'alert warn', 'data-code': w.code || '' },
      el('strong', { text: w.message }), w.fix ? el('div', { class: 'fix', text: w.fix }) : null));
  }

  function wireEnvironment(form) {
    const select = $('#environment', form);
    const sync = () => show($('#custom-urls', form), select.value === 'custom');
    select.addEventListener('change', sync);
    for (const r of $$('input[name=way]', form)) {
      r.addEventListener('change', () => form.classList.toggle('marketplace', r.checked && r.value === 'marketplace'));
    }
    sync();
  }

  function fillCredentialsForm(form, integration) {
    const c = credentialsOf(integration);
    if (c.environment && [...$('#environment', form).options].some((o) => o.value === c.environment)) {
      $('#environment', form).value = c.environment;
    }
    if (c.loginUrl) $('#login_url', form).value = c.loginUrl;
    if (c.apiUrl) $('#api_url', form).value = c.apiUrl;
    if (c.clientId && !$('#client_id', form).value) $('#client_id', form).value = c.clientId;
    const company = companyOf(integration);
    if (company && !$('#company_id', form).value) $('#company_id', form).value = company.id;
    for (const r of $$('input[name=way]', form)) {
      if (c.saved && r.value === (c.marketplace ? 'marketplace' : 'custom')) r.checked = true;
    }
    form.classList.toggle('marketplace', (($('input[name=way]:checked', form) || {}).value) === 'marketplace');
    $('#client_secret', form).placeholder = c.clientId ? 'Leave empty to keep the saved secret' : '';
    show($('#custom-urls', form), $('#environment', form).value === 'custom');
  }

  function readCredentialsForm(form) {
    const way = ($('input[name=way]:checked', form) || {}).value || 'custom';
    const body = { environment: $('#environment', form).value };
    const company = $('#company_id', form).value.trim();
    if (company) body.company_id = /^[0-9]+$/.test(company) ? Number(company) : company;
    if (way === 'marketplace') body.use_marketplace_app = true;
    else {
      body.client_id = $('#client_id', form).value.trim();
      body.client_secret = $('#client_secret', form).value.trim();
    }
    if (body.environment === 'custom') {
      body.login_url = $('#login_url', form).value.trim();
      body.api_url = $('#api_url', form).value.trim();
    }
    return body;
  }

  function checkCredentials(body, integration) {
    const saved = credentialsOf(integration || {});
    if (!body.use_marketplace_app && !body.client_id) return { message: 'Enter the Client ID.', fix: 'Copy it from the app’s OAuth Credentials in the Procore Developer Portal.', field: 'client_id' };
    if (!body.use_marketplace_app && !body.client_secret && body.client_id !== saved.clientId) return { message: 'Enter the Client Secret.', fix: 'Copy it from the app’s OAuth Credentials in the Procore Developer Portal.', field: 'client_secret' };
    if (body.company_id !== undefined && typeof body.company_id !== 'number') return { message: 'The company ID is a number.', fix: 'Copy the digits after /companies/ in your Procore address bar.', field: 'company_id' };
    if (body.environment === 'custom' && (!body.login_url || !body.api_url)) return { message: 'Enter both the Login URL and the API URL.', fix: 'Custom URLs point KTrack at a Procore emulator or proxy.', field: body.login_url ? 'api_url' : 'login_url' };
    return null;
  }

  // Saves (unless only the secret was kept) and verifies. Resolves to the verify answer, or throws ApiError.
  async function saveAndVerify(body) {
    const saved = credentialsOf(state.integration || {});
    const keepSecret = !body.use_marketplace_app && !body.client_secret && body.client_id === saved.clientId;
    const sameAsSaved = keepSecret && body.environment === saved.environment &&
      (body.environment !== 'custom' || (body.login_url === saved.loginUrl && body.api_url === saved.apiUrl));
    if (!keepSecret) await api('PUT', '/credentials', body);
    else if (!sameAsSaved) {
      throw new ApiError(400, { error: { code: 'secret_required', message: 'Enter the Client Secret again.',
                                         fix: 'Changing the environment or URLs needs the secret too.' } });
    }
    return api('POST', '/credentials/verify', body.company_id ? { company_id: body.company_id } : {});
  }

  function renderCompanyPicker(picker, companies, current) {
    const list = $('#company-list', picker);
    fill(list, ...companies.map((c, i) => el('label', { class: 'check company-option' },
      el('input', { type: 'radio', name: 'company_id', value: c.id,
                    checked: current ? String(current.id) === String(c.id) : i === 0 }),
      el('span', {}, el('strong', { text: c.name }), el('span', { class: 'muted', text: ` (${c.id})` })))));
    show(picker, true);
  }

  // ---------------------------------------------------------------------------------------------------------
  // The configuration page (wizard).

  const WIZARD_STEP = {
    not_started: 1, disconnected: 1, credentials_saved: 2, credentials_verified: 3, configured: 4,
    permissions_verified: 5, completing: 5, active: 6,
  };

  function wizardStepFor(integration, local) {
    const status = integration.status;
    if (status === 'error') {
      if ((integration.streams || []).length) return 5;
      if (settingsOf(integration).saved) return 4;
      if (companyOf(integration)) return 3;
      return 2;
    }
    const step = WIZARD_STEP[status] || 1;
    return step === 1 && local.haveCredentials ? 2 : step;
  }

  function setupPage() {
    const local = { haveCredentials: false, editing: new Set(), poller: null, autoVerified: false };
    const credForm = $('#credentials-form');
    const picker = $('#company-picker');
    const settingsForm = $('#settings-form');
    const permScope = $('#step-4');
    const completeScope = $('#step-5');

    function render() {
      const integration = state.integration;
      const current = wizardStepFor(integration, local);
      statusBadge(integration);
      for (const li of $$('#wizard-steps > li')) {
        const n = Number(li.dataset.step);
        li.className = n < current ? 'done' : n === current ? 'current' : 'upcoming';
        if (n === current) li.setAttribute('aria-current', 'step'); else li.removeAttribute('aria-current');
      }
      for (const section of $$('section.step')) {
        const n = Number(section.dataset.step);
        const st = n < current ? 'done' : n === current ? 'current' : 'upcoming';
        section.dataset.state = local.editing.has(n) && st === 'done' ? 'editing' : st;
        const badge = $('.step-badge', section);
        badge.textContent = st === 'done' ? 'Done' : st === 'current' ? 'Now' : '';
        badge.className = 'badge step-badge ' + (st === 'done' ? 'ok' : st === 'current' ? 'current' : '');
        badge.hidden = st === 'upcoming';
      }

      // Step 1's summary: the install is Procore's word once the credentials are verified, the admin's before.
      $('#app-summary').textContent = integration.credentials && integration.credentials.verified_at
        ? 'The app is installed in your Procore company.'
        : 'Done in Procore. KTrack checks the app and its install when you Verify in step 2.';
      // Step 2's summary and form.
      fill($('#credentials-summary'), credentialsSummary(integration), ...warningAlerts(integration), el('div', { class: 'actions' },
        credentialsOf(integration).marketplace ? null  // no secret of the customer's to replace
          : el('button', { class: 'btn secondary', type: 'button', id: 'replace-secret', text: 'Replace secret',
                           onclick: () => editCredentials(true) }),
        el('button', { class: 'btn secondary', type: 'button', id: 'change-credentials', text: 'Change credentials',
                       onclick: () => editCredentials(false) })));
      fillCredentialsForm(credForm, integration);
      show($('#cancel-credentials'), local.editing.has(2));

      // Step 3.
      fill($('#settings-summary'), settingsSummary(integration), el('div', { class: 'actions' },
        el('button', { class: 'btn secondary', type: 'button', id: 'edit-settings', text: 'Change settings',
                       onclick: () => { local.editing.add(3); render(); } })));
      if (!local.editing.has(3) || !settingsForm.dataset.touched) fillSettingsForm(settingsForm, settingsOf(integration));
      refreshRequirements(settingsForm);
      show($('#cancel-settings'), local.editing.has(3));

      // Step 4's summary.
      const checks = state.checks && state.checks.checks;
      const leftOut = checks ? projectNames(checks.filter(isLeftOut)) : [];
      const passed = checks ? checks.filter((c) => c.status === 'ok').length : 0;
      fill($('#permissions-summary'),
        el('p', { class: 'small', text: !checks ? 'Permissions verified.'
          : `All ${passed} checks passed${coverage(state.checks)}.${leftOut.length ? ` Of the projects checked, ${leftOut.length === 1 ? `${leftOut[0]} is` : `${number(leftOut.length)} are`} outside the app’s permitted projects and not linked.` : ''}` }),
        el('div', { class: 'actions' }, el('button', { class: 'btn secondary', type: 'button', text: 'Re-verify',
          onclick: async () => { local.editing.add(4); render(); await verifyPermissions(permScope); await refresh(); } })));

      renderComplete(current);
      renderNextAction(current);
    }

    function renderNextAction(current) {
      const status = state.integration.status;
      const failures = failureGroups(state.checks).length;
      const failed = !$('#credentials-form [data-role=error]').hidden;
      const text = {
        1: 'Next: create the app and its credentials in Procore (step 1).',
        2: failed ? 'Next: correct what the message below says, then Verify again (step 2).'
          : status === 'credentials_saved' ? 'Next: verify the saved credentials (step 2).' : 'Next: paste the Client ID and Client Secret, then Verify (step 2).',
        3: 'Next: choose what to sync and save the settings (step 3).',
        4: failures ? `Next: fix ${failures === 1 ? 'the one thing' : `the ${failures} things`} listed in step 4 in Procore, then Re-verify.` : 'Next: verify the app’s permissions in Procore (step 4).',
        5: status === 'completing' ? 'KTrack is running the first sync. You can leave this page; it keeps going.'
          : status === 'error' ? 'Something needs attention; see below.' : 'Next: Complete Integration (step 5).',
        6: 'Procore is connected and syncing.',
      }[current];
      nextAction(text);
    }

    function renderComplete(current) {
      const status = state.integration.status;
      const button = $('#complete');
      const reason = $('#complete-reason');
      const failures = failureGroups(state.checks).length;
      const ready = status === 'permissions_verified';
      button.disabled = !ready;
      button.hidden = status === 'completing' || status === 'active';
      reason.textContent = ready ? 'Credentials and permissions are verified.'
        : current <= 2 ? 'Available once the credentials are verified (step 2), the settings saved (step 3) and the permissions verified (step 4).'
          : current === 3 ? 'Available once the settings are saved (step 3) and the permissions verified (step 4).'
            : current === 4 ? (failures ? `Available once the permissions verify: ${failures} still to fix in step 4.` : 'Available once the permissions are verified (step 4).')
              : status === 'error' ? '' : '';
      show(reason, !!reason.textContent);
      completeScope.dataset.ready = ready ? 'true' : 'false';
      if ((status === 'completing' || status === 'active' || (status === 'error' && (state.integration.streams || []).length)) && !local.poller) startProgress();
    }

    function startProgress() {
      show($('#sync-progress'), true);
      local.poller = pollStreams(completeScope, {
        fastMs: 1500, slowMs: 0,
        onUpdate: async (progress) => {
          if (!progress.all) return;
          await loadIntegration();
          statusBadge(state.integration);
          if (state.integration.status === 'completing') return;  // the last streams are being recorded
          $('#sync-done-text').textContent = `The first sync finished: ${number(progress.records)} records in ${progress.count} streams.`;
          // With auto-link on, the projects are linked already: the next page is the same, the words differ.
          const linked = (state.integration.streams || []).some((s) => s.project_id !== null && s.project_id !== undefined);
          $('#projects-link').textContent = linked ? 'See the Procore projects' : 'Link your first Procore project';
          show($('#sync-done'), true);
          local.poller.stop();
          render();
        },
      });
    }

    function editCredentials(secretOnly) {
      local.editing.add(2);
      credForm.classList.toggle('secret-only', secretOnly);
      $('#client_secret').value = '';
      render();
      $(secretOnly ? '#client_secret' : '#client_id').focus();
    }

    async function refresh() {
      await loadIntegration();
      render();
    }

    // Step 1.
    $('#have-credentials').addEventListener('click', () => {
      local.haveCredentials = true;
      render();
      $('#client_id').focus();
    });

    // Step 2.
    wireEnvironment(credForm);
    $('#cancel-credentials').addEventListener('click', () => {
      local.editing.delete(2);
      credForm.classList.remove('secret-only');
      showError(errorBox(credForm), null);
      render();
    });
    credForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const box = errorBox(credForm);
      showError(box, null);
      show(picker, false);
      const body = readCredentialsForm(credForm);
      const invalid = checkCredentials(body, state.integration);
      if (invalid) { showError(box, invalid); $('#' + invalid.field).focus(); return; }
      await busy($('#verify-credentials'), 'Verifying…', async () => {
        try {
          const answer = await saveAndVerify(body);
          await afterVerify(answer);
        } catch (err) {
          showError(box, err);
          if (err.code === 'invalid_credentials') $('#client_secret').select();
          await loadIntegration().then(render).catch(() => {});
        }
      });
    });

    async function afterVerify(answer) {
      const companies = (answer && answer.companies) || [];
      await loadIntegration();
      const chosen = companyOf(state.integration) || (answer && answer.company);
      if (companies.length > 1 && (answer.needs_company_choice || !companyOf(state.integration))) {
        renderCompanyPicker(picker, companies, chosen);
        render();
        return;
      }
      $('#client_secret').value = '';
      credForm.classList.remove('secret-only');
      local.editing.delete(2);
      show(picker, false);
      render();
    }

    $('#choose-company').addEventListener('click', async (event) => {
      const input = $('input[name=company_id]:checked', picker);
      if (!input) return;
      const box = errorBox(picker);
      showError(box, null);
      await busy(event.currentTarget, 'Verifying…', async () => {
        try {
          const answer = await api('POST', '/credentials/verify', { company_id: Number(input.value) });
          show(picker, false);
          await afterVerify({ ...answer, companies: [] });
        } catch (err) {
          showError(box, err);
        }
      });
    });

    // Step 3.
    settingsForm.addEventListener('change', () => { settingsForm.dataset.touched = 'true'; });
    wireSettingsForm(settingsForm, async () => {
      delete settingsForm.dataset.touched;
      local.editing.delete(3);
      render();
      // The admin has usually given the permissions by now: check at once, and show what is left.
      local.editing.add(4);
      await verifyPermissions(permScope);
      local.editing.delete(4);
      render();
      $('#step-4').scrollIntoView({ behavior: 'smooth', block: 'start' });
    });
    $('#cancel-settings').addEventListener('click', () => {
      local.editing.delete(3);
      delete settingsForm.dataset.touched;
      render();
    });

    // Step 4.
    $('#verify-permissions').addEventListener('click', async () => {
      await verifyPermissions(permScope);
      local.editing.delete(4);
      render();
    });

    // Step 5.
    $('#complete').addEventListener('click', async (event) => {
      const box = errorBox(completeScope);
      showError(box, null);
      await busy(event.currentTarget, 'Starting…', async () => {
        try {
          await api('POST', '/complete', {});
          await loadProjects();
          await refresh();
          if (!local.poller) startProgress();
        } catch (err) {
          showError(box, err);
          await refresh().catch(() => {});
        }
      });
    });

    (async () => {
      try {
        await loadIntegration();
        if (settingsOf(state.integration).saved) await loadRequirements();
        // Coming back to step 4: the last check, as KTrack recorded it.
        const last = storedCheck(state.integration);
        if (last) renderPermissions(permScope, last);
        render();
        if (location.hash) { const target = $(location.hash); if (target) target.scrollIntoView(); }
      } catch (err) {
        showError($('#page-error'), err);
        nextAction('');
      }
    })();
  }

  // ---------------------------------------------------------------------------------------------------------
  // The integration details page.

  function detailsPage() {
    const settingsForm = $('#settings-form');
    const permScope = $('#permissions-card');
    const streamsScope = $('#streams-card');
    let poller = null;

    function renderConnection(integration) {
      fill($('#connection-facts'), ...credentialsSummary(integration).childNodes);
      fill($('#connection-warnings'), ...warningAlerts(integration));
      show($('#replace-secret'), !credentialsOf(integration).marketplace);
      const lastError = integration.last_error;
      const box = $('#last-error');
      if (lastError && (lastError.message || typeof lastError === 'string')) {
        showError(box, typeof lastError === 'string' ? { message: lastError } : lastError);
        // Procore refuses the secret KTrack has (a new one was made in the Developer Portal): paste it here.
        if (lastError.code === 'invalid_credentials' && integration.credentials && !integration.credentials.uses_marketplace_app) {
          box.append(el('div', { class: 'actions' }, el('button', { class: 'btn secondary', type: 'button', id: 'last-error-replace',
            text: 'Paste the new secret', onclick: () => { $('#replace-secret').click(); $('#connection').scrollIntoView(); } })));
        }
      } else showError(box, null);
      // Procore not answering KTrack's last background check (down, or under load): nothing for the admin to
      // fix, but worth knowing while changes wait.
      const check = (integration.webhooks || {}).health_check_error;
      const down = !lastError && check && check.code === 'procore_unavailable';
      const downBox = $('#procore-down');
      if (downBox) {
        const at = down ? parseTime(check.at) : null;
        fill(downBox, down ? [el('strong', { text: `Procore did not answer KTrack’s last check${at ? ` at ${clock(at)}` : ''}: ${check.message || 'it is unavailable.'}` }),
          el('div', { text: 'KTrack retries by itself, and the changes Procore sends meanwhile wait in its inbox: nothing is lost.' })] : []);
        show(downBox, !!down);
      }
    }

    function renderHealth(integration, streams) {
      const list = streams || integration.streams || [];
      const synced = list.filter((s) => s.status === 'synced').length;
      const paused = list.filter((s) => s.status === 'paused' && !s.error).length;
      const failing = list.filter(stoppedOnError).length;
      const records = list.reduce((n, s) => n + (s.count || 0), 0);
      const last = list.map((s) => parseTime(s.last_synced_at)).filter(Boolean).sort((a, b) => b - a)[0];
      const hooks = webhooksOf(integration);
      fill($('#health-facts'),
        el('dt', { text: 'Streams' }), el('dd', {}, `${synced} of ${list.length - paused} synced${paused ? ` (${paused} paused)` : ''}`,
          failing ? [' · ', el('span', { class: 'badge error', text: `${failing} failing` })] : ''),
        el('dt', { text: 'Records' }), el('dd', { text: number(records) }),
        el('dt', { text: 'Last sync' }), el('dd', { text: last ? ago(last) : '—' }),
        el('dt', { text: 'Webhooks' }), el('dd', {}, hooks.hookId !== null ? 'created' : 'not created yet',
          hooks.checkError ? [' · ', el('span', { class: 'badge warn', text: 'check failing' })] : '',
          hooks.failing ? [' · ', el('span', { class: 'badge warn', text: `${hooks.failing} failing` })] : '',
          hooks.discarded ? [' · ', el('span', { class: 'badge error', text: `${hooks.discarded} discarded` })] : ''),
        apiUsageFacts(integration.api_usage));
    }

    // GET / answers api_usage {requests_last_hour, hourly_limit, requests_in_spike_window, spike_limit (limits
    // null until Procore reported them), rate_limited_until, rate_limited_responses, requests_waiting}, or null.
    function apiUsageFacts(usage) {
      if (!usage) return null;
      const limits = [usage.hourly_limit ? `${number(usage.hourly_limit)} an hour` : '',
        usage.spike_limit ? `${number(usage.spike_limit)} per 10 s` : ''].filter(Boolean).join(', ');
      const until = parseTime(usage.rate_limited_until);
      return [el('dt', { text: 'Procore API' }), el('dd', { id: 'api-usage' },
        `${count(usage.requests_last_hour, 'request')} in the last hour`,
        limits ? el('span', { class: 'muted', text: ` (Procore allows ${limits})` }) : '',
        until ? [el('br'), el('span', { class: 'badge warn', text: `Rate limited until ${clock(until)}` }),
          el('span', { class: 'small muted', text: ' KTrack waits for Procore’s limit to reset, then goes on by itself.' })] : '')];
    }

    // GET / answers webhooks {hook_id, destination_url, api_version, triggers (a count), failed_triggers,
    // failing, discarded (null until Procore's deliveries were read), health_checked_at, recent_deliveries}.
    function webhooksOf(integration) {
      const w = integration.webhooks || {};
      return {
        hookId: w.hook_id ?? null,
        destination: w.destination_url || '',
        version: w.api_version || '',
        triggers: Array.isArray(w.triggers) ? w.triggers.length : w.triggers ?? null,
        failedTriggers: w.failed_triggers || [],
        rotationPending: !!w.secret_rotation_pending,
        failing: w.failing ?? null,
        discarded: w.discarded ?? null,
        checkedAt: w.health_checked_at || null,
        checkError: w.health_check_error || null,
        deliveries: w.recent_deliveries || [],
      };
    }

    function deliveryBadge(outcome) {
      const o = String(outcome || '').toLowerCase();
      const cls = /discard/.test(o) ? 'error' : /succe|ok|deliver/.test(o) ? 'ok' : 'warn';
      return el('span', { class: `badge ${cls}`, text: outcome || '—' });
    }

    function countBadge(n, badCls) {
      if (n === null || n === undefined) return el('span', { class: 'badge', text: 'not read yet' });
      return el('span', { class: `badge ${n ? badCls : 'ok'}`, text: String(n) });
    }

    function renderWebhooks(integration) {
      const w = webhooksOf(integration);
      const box = $('#webhooks');
      if (w.hookId === null) {
        fill(box, el('p', { class: 'small muted', text: 'KTrack creates its webhook in Procore when the integration is completed.' }));
        return;
      }
      fill(box,
        el('dl', { class: 'facts' },
          el('dt', { text: 'Hook' }), el('dd', {}, el('span', { class: 'mono', text: String(w.hookId) }),
            w.version ? el('span', { class: 'muted', text: ` · payload ${w.version}` }) : ''),
          el('dt', { text: 'Sends to' }), el('dd', { class: 'mono small', text: w.destination || '—' }),
          el('dt', { text: 'Secret' }), el('dd', { id: 'webhook-secret' }, w.rotationPending
            ? [el('span', { class: 'badge warn', text: 'Rotation pending' }),
              el('span', { class: 'small muted', text: ' Procore’s hook still has the previous secret; KTrack accepts both until it has the new one. Rotate again to retry.' })]
            : el('span', { class: 'small muted', text: 'Sent by Procore as Authorization: Bearer; KTrack keeps it encrypted and never shows it' })),
          el('dt', { text: 'Triggers' }), el('dd', {}, w.triggers === null ? '—' : `${w.triggers} (create, update and delete of each synced resource)`,
            w.failedTriggers.length ? [' · ', el('span', { class: 'badge error', text: `${w.failedTriggers.length} could not be created` })] : ''),
          el('dt', { text: 'Failing' }), el('dd', {}, countBadge(w.failing, 'warn'), el('span', { class: 'small muted', text: ' deliveries Procore is retrying' })),
          el('dt', { text: 'Discarded' }), el('dd', {}, countBadge(w.discarded, 'error'),
            el('span', { class: 'small muted', text: ' given up by Procore after 12 h; KTrack reconciles those streams' })),
          el('dt', { text: 'Checked' }), el('dd', { class: 'small', id: 'webhooks-checked' }, w.checkedAt ? ago(w.checkedAt) : 'not yet',
            w.checkError ? [' · ', el('span', { class: 'badge warn', text: `last check failed ${ago(w.checkError.at)}` })] : '')),
        // The refusal the page's alert already says (with its fix) is only named here.
        w.checkError ? el('div', { class: 'alert warn', id: 'webhooks-check-error', 'data-code': w.checkError.code || '' },
          (integration.last_error || {}).code === w.checkError.code
            ? el('span', { text: 'KTrack could not read Procore’s delivery log: Procore refused it, as the alert at the top of the page says.' })
            : [el('strong', { text: w.checkError.message || 'KTrack could not read Procore’s delivery log.' }),
              w.checkError.fix ? el('div', { class: 'fix', text: w.checkError.fix }) : null]) : null,
        w.failedTriggers.length ? el('div', { class: 'fixes' }, w.failedTriggers.map((f) => el('div', { class: 'fix-item' },
          el('strong', { text: `${f.resource_name} ${f.event_type}` }), `: ${typeof f.error === 'string' ? f.error : (f.error && f.error.message) || ''}`))) : null,
        el('h3', { text: 'Recent deliveries (Procore’s log)' }),
        w.deliveries.length ? el('div', { class: 'table-wrap' }, el('table', { id: 'deliveries-table' },
          el('thead', {}, el('tr', {}, ['When', 'Event', 'Outcome', 'Answer'].map((x) => el('th', { text: x })))),
          el('tbody', {}, w.deliveries.slice(0, 10).map((d) => el('tr', {},
            el('td', { class: 'small', text: when(d.completed_at) }),
            el('td', { class: 'small', text: [d.resource_name, d.event_type].filter(Boolean).join(' ') || `event ${d.event_id}` }),
            el('td', {}, deliveryBadge(d.outcome)),
            el('td', { class: 'small muted', text: d.response_status ? String(d.response_status) : '' }))))))
          : el('p', { class: 'small muted', text: w.checkedAt
            ? `None in Procore’s delivery log when KTrack last read it (${ago(w.checkedAt)}); KTrack reads it regularly.`
            : 'KTrack has not read Procore’s delivery log yet; it reads it regularly.' }));
    }

    // What processing made of a received event (the inbox's outcome), in the admin's words.
    const EVENT_OUTCOMES = {
      fetched: ['ok', 'Re-read and stored'], deleted: ['ok', 'Marked deleted'], not_found: ['ok', 'Gone in Procore: marked deleted'],
      current: ['ok', 'Already up to date'], echo: ['', 'Skipped: KTrack’s own change'],
      not_in_scope: ['', 'Skipped: not synced'], no_budget_view: ['', 'Left to the stream’s next read'],
      no_integration: ['warn', 'Dropped: not connected'],
      credentials_not_verified: ['warn', 'Dropped while the credentials await verification; caught up after'],
      marketplace_app_not_configured: ['error', 'Dropped: this server lacks KTrack’s Marketplace app; caught up once set'],
      credentials_missing: ['warn', 'Dropped: no credentials saved; caught up once saved'],
      invalid_record: ['error', 'Procore’s record could not be read; its stream reads again'],
      not_visible: ['error', 'Procore would not show the list (404)'],
    };

    // Why received events wait, when processing failed and waits to try again (GET /webhooks/events'
    // summary.processing_retry), or KTrack waits for Procore's rate limit (GET /'s api_usage).
    const WAIT_CAUSES = {
      procore_unavailable: 'Procore did not answer', invalid_response: 'Procore’s answer could not be read',
      rate_limited: 'Procore’s rate limit is used up', invalid_credentials: 'Procore refused KTrack’s credentials',
      app_not_installed: 'KTrack’s app is not installed in the company',
    };
    function waitReason(sum) {
      const retry = sum.processing_retry;
      if (retry && retry.code) {
        const cause = WAIT_CAUSES[retry.code] || `the last try failed (${retry.code.replace(/_/g, ' ')})`;
        return `${cause}; KTrack tries again at ${clock(new Date(retry.retry_at))}, and nothing is lost`;
      }
      const integration = state.integration || {};
      const until = integration.api_usage && integration.api_usage.rate_limited_until;
      if (until && new Date(until) > new Date()) {
        return `${WAIT_CAUSES.rate_limited}; KTrack fetches them after ${clock(new Date(until))}, and nothing is lost`;
      }
      const check = integration.webhooks && integration.webhooks.health_check_error;
      if (check && WAIT_CAUSES[check.code]) return `${WAIT_CAUSES[check.code]}; KTrack keeps trying, and nothing is lost`;
      return '';
    }

    function eventOutcome(e) {
      if (e.status === 'pending') return ['warn', 'Waiting'];
      if (EVENT_OUTCOMES[e.outcome]) return EVENT_OUTCOMES[e.outcome];
      // Any other outcome is the error Procore answered the re-read with: the stream shows its fix.
      return ['error', `Procore refused: ${String(e.outcome || 'unknown').replace(/_/g, ' ')}`];
    }

    // The events KTrack received (GET /webhooks/events): the newest ten and a summary of the last thousand.
    async function renderReceived() {
      const box = $('#received-events');
      let answer;
      try {
        answer = await api('GET', '/webhooks/events?limit=10');
      } catch (_) {
        fill(box, el('h3', { text: 'Received events' }), el('p', { class: 'small muted', text: 'The received events could not be loaded.' }));
        return;
      }
      const events = answer.events || [];
      const sum = answer.summary || {};
      if (!events.length) {
        fill(box, el('h3', { text: 'Received events' }), el('p', { class: 'small muted', text: 'No events received yet.' }));
        return;
      }
      const skipped = Object.entries(sum.by_outcome || {})
        .filter(([o]) => (EVENT_OUTCOMES[o] || ['error'])[0] !== 'ok').reduce((n, [, v]) => n + v, 0);
      const why = sum.pending ? waitReason(sum) : '';
      const line = [`${number(sum.done + sum.dropped - skipped)} processed`,
        skipped ? `${number(skipped)} skipped or refused` : '',
        sum.pending ? `${number(sum.pending)} waiting${why ? `: ${why}` : ''}` : '']
        .filter(Boolean).join(' · ');
      fill(box,
        el('h3', { text: 'Received events' }),
        el('p', { class: 'small muted', id: 'received-summary',
          text: `Of the last ${count(sum.events, 'event')} KTrack received: ${line}.` }),
        el('div', { class: 'table-wrap' }, el('table', { id: 'received-table' },
          el('thead', {}, el('tr', {}, ['Received', 'Event', 'What KTrack did'].map((x) => el('th', { text: x })))),
          el('tbody', {}, events.map((e) => {
            const [cls, label] = eventOutcome(e);
            // The project under the event rather than in a column of its own: three columns fit a phone.
            return el('tr', { 'data-outcome': e.outcome || e.status },
              el('td', { class: 'small nowrap', text: when(e.received_at) }),
              el('td', { class: 'small' },
                el('div', { text: `${e.resource_name} ${e.event_type} · #${e.resource_id}` }),
                el('div', { class: 'muted', text: e.project_name || (e.project_id ? `Project ${e.project_id}` : 'Company') })),
              el('td', {}, el('span', { class: `badge ${cls}`, text: label })));
          })))));
    }

    const AUDIT_LABELS = {
      'integration.credentials_saved': 'Saved the credentials', 'integration.credentials_replaced': 'Replaced the credentials',
      'integration.credentials_verified': 'Verified the credentials', 'integration.settings_saved': 'Saved the settings',
      'integration.permissions_verified': 'Verified the permissions', 'integration.disconnected': 'Disconnected',
      'integration.webhook_secret_rotated': 'Rotated the webhook secret', 'integration.webhook_hook_updated': 'Gave Procore’s hook the new webhook secret',
      'integration.project_linked': 'Linked a project',
      'integration.project_unlinked': 'Unlinked a project', 'integration.discarded_events_reconciled': 'Reconciled discarded webhook events',
      'integration.reconcile_requested': 'Asked for reconciliation',
      'integration.hook_missing': 'Found KTrack’s webhook deleted in Procore and created it again',
      'integration.procore_refused': 'Procore refused KTrack’s background check',
      'integration.procore_accepts_again': 'Procore accepts KTrack again',
    };

    function auditAction(action) {
      if (AUDIT_LABELS[action]) return AUDIT_LABELS[action];
      const words = String(action || '').replace(/^integration\./, '').replace(/_/g, ' ');
      return words.charAt(0).toUpperCase() + words.slice(1);
    }

    // Long identifiers (client ids, URLs) shortened: the audit log says what changed, not every byte of it.
    const short = (text) => (text.length > 28 ? `${text.slice(0, 12)}…` : text);

    // "environment: custom · verified: yes": the detail's plain values, never nested objects.
    function auditDetail(detail) {
      if (!detail || typeof detail !== 'object') return detail ? String(detail) : '';
      return Object.entries(detail).filter(([, v]) => v !== null && v !== '' && typeof v !== 'object')
        .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${v === true ? 'yes' : v === false ? 'no' : short(String(v))}`).join(' · ');
    }

    // The newest 50 entries, 50 more each time Show older entries is clicked (the API gives at most 500).
    let auditLimit = 50;
    $('#audit-more').addEventListener('click', async (event) => {
      auditLimit = Math.min(500, auditLimit + 50);
      await busy(event.currentTarget, 'Loading…', renderAudit);
    });
    async function renderAudit() {
      let entries = [];
      try {
        const answer = await api('GET', `/audit?limit=${auditLimit}`);
        entries = Array.isArray(answer) ? answer : [];
      } catch (_) {
        entries = null;
      }
      const tbody = $('#audit-table tbody');
      show($('#audit-more'), !!entries && entries.length === auditLimit && auditLimit < 500);
      if (!entries || !entries.length) {
        fill(tbody, el('tr', {}, el('td', { colspan: 3, class: 'small muted',
          text: entries ? 'Nothing recorded yet.' : 'The audit log could not be loaded.' })));
        return;
      }
      const me = root.dataset.userId;
      const who = (e) => (e.user_id === null || e.user_id === undefined ? 'KTrack'
        : String(e.user_id) === me ? 'You' : e.user_email || `User ${e.user_id}`);
      // A run of the same entry (the same person, action and detail, one after another) is one row that says
      // how many times and since when, so a button clicked many times does not push everything else away. The
      // detail compares whole: its shown form shortens long values, which may differ after the shortening.
      const runs = [];
      for (const e of entries) {
        const last = runs[runs.length - 1];
        const key = JSON.stringify([who(e), e.action, e.detail ?? null]);
        if (last && last.key === key) {
          last.oldest = e;
          last.count += 1;
        } else {
          runs.push({ key, newest: e, oldest: e, count: 1 });
        }
      }
      fill(tbody, ...runs.map(({ newest: e, oldest, count }) => el('tr', { 'data-action': e.action, 'data-count': count },
        el('td', { class: 'small nowrap' }, when(e.at),
          count > 1 && when(oldest.at) !== when(e.at) ? el('div', { class: 'muted', text: `since ${when(oldest.at)}` }) : ''),
        el('td', { class: 'small', text: who(e) }),
        el('td', { class: 'small' }, el('strong', { text: auditAction(e.action) }),
          count > 1 ? el('span', { class: 'muted', text: ` · ${count} times in a row` }) : '',
          auditDetail(e.detail) ? el('div', { class: 'muted', text: auditDetail(e.detail) }) : ''))));
    }

    function renderSettings(integration) {
      fill($('#settings-summary'), settingsSummary(integration));
      if (!settingsForm.dataset.touched) fillSettingsForm(settingsForm, settingsOf(integration));
      refreshRequirements(settingsForm);
    }

    let shownPermKey = '';  // the stored check (and refusal) the permissions card shows
    function render() {
      const integration = state.integration;
      statusBadge(integration);
      const connected = !['not_started', 'disconnected'].includes(integration.status);
      show($('#not-connected'), !connected);
      show($('#details'), connected);
      if (!connected) {
        nextAction(integration.status === 'disconnected' ? 'Disconnected. Connect again whenever you like.' : 'Procore is not connected yet.');
        renderKeptData(integration);
        return;
      }
      const setupDone = ['completing', 'active', 'error'].includes(integration.status);
      if (!setupDone) nextAction('The setup is not finished.', { href: `/clients/${clientId}/procore/setup`, text: 'Continue the setup →' });
      else if (integration.status === 'completing') {
        // Completing again (changed settings) once streams have synced: the webhooks and streams follow them.
        const again = (integration.streams || []).some((st) => st.last_synced_at);
        // Completing again because the delivery health check found KTrack's hook deleted in Procore.
        const restoring = (webhooksOf(integration).checkError || {}).code === 'hook_missing';
        nextAction(restoring ? 'KTrack’s webhook was deleted in Procore: KTrack is creating it again and reconciling every stream.'
          : again ? 'Applying the changed settings: the webhook triggers and the synced data follow them.' : 'The first sync is running.');
        if (restoring || again) $('#integration-status').textContent = restoring ? 'Restoring webhook' : 'Applying settings';
      }
      else if (integration.status === 'error') nextAction('Something needs attention; the fix is below.');
      else nextAction(`Connected to ${((companyOf(integration) || {}).name || 'Procore').replace(/\.$/, '')}.`);
      renderConnection(integration);
      renderSettings(integration);
      renderWebhooks(integration);
      renderHealth(integration);
      // The permissions card follows a background re-check, and Procore starting or stopping refusing the app.
      const last = storedCheck(integration);
      const permKey = last ? `${last.checked_at}|${(integration.last_error || {}).code || ''}` : '';
      if (last && permKey !== shownPermKey && !$('#verify-permissions').disabled) {
        shownPermKey = permKey;
        renderPermissions(permScope, last);
      }
      show($('#reconcile-now'), ['active', 'error'].includes(integration.status));
      show($('#rotate-webhook-secret'), ['active', 'error'].includes(integration.status) && webhooksOf(integration).hookId !== null);
    }

    // Replace secret.
    const replaceForm = $('#replace-secret-form');
    $('#replace-secret').addEventListener('click', () => {
      show(replaceForm, true);
      show($('#connection-actions'), false);
      $('#new_client_secret').focus();
    });
    $('#cancel-replace-secret').addEventListener('click', () => {
      show(replaceForm, false);
      show($('#connection-actions'), true);
      showError(errorBox(replaceForm), null);
    });
    replaceForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const box = errorBox(replaceForm);
      showError(box, null);
      const secret = $('#new_client_secret').value.trim();
      if (!secret) { showError(box, { message: 'Enter the new Client Secret.' }); return; }
      const c = credentialsOf(state.integration);
      const body = { client_id: c.clientId, client_secret: secret, environment: c.environment || 'production' };
      if (c.environment === 'custom') { body.login_url = c.loginUrl; body.api_url = c.apiUrl; }
      await busy($('button[type=submit]', replaceForm), 'Verifying…', async () => {
        try {
          // A running integration verifies replaced credentials against its company before saving them.
          const answer = await api('PUT', '/credentials', body);
          if ((answer && answer.status) === 'credentials_saved') {
            const company = companyOf(state.integration);
            await api('POST', '/credentials/verify', company ? { company_id: company.id } : {});
          }
          $('#new_client_secret').value = '';
          show(replaceForm, false);
          show($('#connection-actions'), true);
          await loadIntegration();
          render();
          await renderAudit();
        } catch (err) {
          showError(box, err);
          await loadIntegration().then(render).catch(() => {});
        }
      });
    });

    // Rotate the webhook secret: a new one, given to Procore's hook; both are accepted until Procore has it.
    $('#rotate-webhook-secret').addEventListener('click', async (event) => {
      const box = $('#rotate-error');
      const done = $('#rotate-result');
      showError(box, null);
      show(done, false);
      await busy(event.currentTarget, 'Rotating…', async () => {
        try {
          const answer = await api('POST', '/webhooks/rotate-secret', {});
          if (answer && answer.hook_updated) {
            done.textContent = 'A new webhook secret is in use: Procore’s hook sends it from now on, and the previous one is no longer accepted.';
            show(done, true);
          } else {
            // Kept, not yet in Procore's hook: say why, and that nothing is lost meanwhile.
            const why = (answer && answer.error) || {};
            showError(box, {
              code: why.code,
              message: `KTrack made a new secret, but Procore’s hook was not updated${why.message ? `: ${why.message}` : ' yet.'}`,
              fix: `${why.fix ? `${why.fix} ` : ''}Both secrets are accepted meanwhile; click Rotate secret again to retry.`,
            });
          }
        } catch (err) {
          showError(box, err);
        }
        await loadIntegration().then(render).catch(() => {});
        await renderAudit();
      });
    });

    // Settings.
    $('#edit-settings').addEventListener('click', () => {
      show($('#settings-saved'), false);
      show($('#settings-editor'), true);
      show($('#settings-summary'), false);
      show($('#edit-settings'), false);
      show($('#cancel-settings'), true);
    });
    const closeSettings = () => {
      show($('#settings-editor'), false);
      show($('#settings-summary'), true);
      show($('#edit-settings'), true);
      delete settingsForm.dataset.touched;
      showError(errorBox(settingsForm), null);
    };
    $('#cancel-settings').addEventListener('click', () => { closeSettings(); renderSettings(state.integration); });
    settingsForm.addEventListener('change', () => { settingsForm.dataset.touched = 'true'; });
    wireSettingsForm(settingsForm, async (before) => {
      closeSettings();
      render();
      settingsSaved(before, settingsOf(state.integration));
      // A running integration saves new settings only after checking their permissions, then applies them
      // (status completing): show that check. Otherwise the new settings' permissions are checked now.
      const last = storedCheck(state.integration);
      if (['completing', 'active'].includes(state.integration.status) && last) renderPermissions(permScope, last);
      else await verifyPermissions(permScope);
      await renderAudit();
    });

    // Permissions.
    $('#verify-permissions').addEventListener('click', async () => { await verifyPermissions(permScope); render(); });

    // Reconciliation now, for every stream (the JSON API can also ask for one stream or one project's).
    wireReconcile($('#reconcile-now'), () => ({}),
      (n) => `Reconciling ${count(n, 'stream')}: each is compared with Procore and any difference repaired. ` +
        'They show Syncing while it runs.',
      async () => { if (poller) poller.hurry(); await renderAudit(); });

    // What a disconnect kept (read-only), and deleting it later.
    function renderKeptData(integration) {
      const kept = integration.status === 'disconnected' ? (integration.streams || []) : [];
      const records = kept.reduce((n, st) => n + (st.count || 0), 0);
      show($('#kept-data'), kept.length > 0);
      if (!kept.length) return;
      $('#kept-data-summary').textContent = `KTrack kept ${count(records, 'record')} in ${count(kept.length, 'stream')} ` +
        'from the last connection. They are read-only and no longer updated.';
      $('#delete-kept-question').textContent = `Delete the ${count(records, 'kept record')} and the project links?`;
    }
    const deleteKeptForm = $('#delete-kept-form');
    $('#delete-kept-data').addEventListener('click', () => { show(deleteKeptForm, true); show($('#delete-kept-data'), false); });
    $('#cancel-delete-kept').addEventListener('click', () => {
      show(deleteKeptForm, false); show($('#delete-kept-data'), true); showError(errorBox(deleteKeptForm), null);
    });
    deleteKeptForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const box = errorBox(deleteKeptForm);
      showError(box, null);
      await busy($('#confirm-delete-kept'), 'Deleting…', async () => {
        try {
          await api('DELETE', '/', { purge_data: true });
          show(deleteKeptForm, false);
          show($('#delete-kept-data'), true);
          await loadIntegration();
          render();
        } catch (err) {
          showError(box, err);
        }
      });
    });

    // Disconnect.
    const disconnectForm = $('#disconnect-form');
    $('#disconnect').addEventListener('click', () => { show(disconnectForm, true); show($('#disconnect'), false); });
    $('#cancel-disconnect').addEventListener('click', () => { show(disconnectForm, false); show($('#disconnect'), true); });
    disconnectForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const box = errorBox(disconnectForm);
      showError(box, null);
      const purge = ($('input[name=purge_data]:checked', disconnectForm) || {}).value === 'purge';
      await busy($('#confirm-disconnect'), 'Disconnecting…', async () => {
        try {
          await api('DELETE', '/', { purge_data: purge });
          if (poller) poller.stop();
          await loadIntegration();
          render();
        } catch (err) {
          showError(box, err);
        }
      });
    });

    (async () => {
      try {
        await Promise.all([loadIntegration(), loadProjects()]);
        if (settingsOf(state.integration).saved) await loadRequirements();
        render();
        if (['not_started', 'disconnected'].includes(state.integration.status)) return;
        renderStreamErrors($('#stream-errors'), state.integration.streams || []);
        let usageReadAt = Date.now();
        poller = pollStreams(streamsScope, {
          fastMs: 2000, slowMs: 15000,
          onUpdate: async (_, list) => {
            // While completing (or applying changed settings), the status follows without a reload.
            if (state.integration.status === 'completing') { await loadIntegration(); render(); }
            renderStreamErrors($('#stream-errors'), list);
            // The Procore API use changes as the sync runs: read it again, at most every 10 s.
            // So is the integration's health: an error Procore starts or stops answering with, a background
            // permission or delivery check. The page follows those without a reload.
            if (Date.now() - usageReadAt >= 10000) {
              usageReadAt = Date.now();
              const fresh = await api('GET', '/');
              const health = (i) => JSON.stringify([i.status, i.last_error, (i.permissions || {}).checked_at, i.webhooks]);
              const changed = health(fresh) !== health(state.integration);
              if (changed) { state.integration = fresh; render(); }
              else state.integration.api_usage = fresh.api_usage;
            }
            renderHealth(state.integration, list);
            await renderReceived();
          },
        });
        await Promise.all([renderAudit(), renderReceived()]);
      } catch (err) {
        showError($('#page-error'), err);
        nextAction('');
      }
    })();
  }

  // ---------------------------------------------------------------------------------------------------------
  // The Procore projects page.

  function projectsPage() {
    const PER_PAGE = 50;
    const view = { page: 1, total: 0, list: [], busy: new Set(), unlinking: null, linked: new Map(), ktrack: [], target: new Map() };
    const FILTERS = { all: '', linked: '&linked=true', unlinked: '&linked=false', active: '&active=true', inactive: '&active=false' };

    function syncBadge(p) {
      if (!p.linked_ktrack_project_id) return el('span', { class: 'muted small', text: '—' });
      const st = p.sync_status || 'pending';
      return el('span', { class: `badge ${st}`, text: STREAM_STATUS_LABELS[st] || st });
    }

    // Why a linked project's streams stopped: paused for a permission gap, or stopped on Procore's refusal. The
    // fix is left out when the Procore access column already says it.
    function syncProblem(p) {
      const problem = p.drift || p.sync_error;
      if (!problem) return null;
      const stopped = p.drift ? '' : `${count(p.sync_error.streams || 1, 'stream')} stopped: `;
      // A project no longer permitted has every gap from that one cause.
      const saidBeside = p.permitted === false && (!!p.drift || problem.code === 'project_not_permitted');
      return el('div', { class: 'small drift', [p.drift ? 'data-drift' : 'data-sync-error']: problem.code },
        el('div', { text: stopped + problem.message }),
        el('div', { class: 'muted', text: saidBeside ? 'KTrack resumes its sync by itself once Procore permits it.' : problem.fix || '' }));
    }

    // Where Link links: the KTrack project chosen in the row; by default the one it was unlinked from, while that
    // one is free; otherwise a new KTrack project ('new').
    function targetOf(p) {
      const chosen = view.target.get(String(p.id));
      if (chosen) return chosen;
      const previous = p.previous_ktrack_project_id;
      const free = previous != null && view.ktrack.some((k) => k.id === previous && k.procore_project_id == null);
      return free ? String(previous) : 'new';
    }

    function actions(p) {
      const id = String(p.id);
      const working = view.busy.has(id);
      if (view.unlinking === id) {
        return el('form', { class: 'unlink-confirm', onsubmit: (e) => { e.preventDefault(); unlink(p, e.currentTarget); } },
          el('label', { class: 'check small' }, el('input', { type: 'checkbox', name: 'purge' }), 'Also delete its synced data'),
          el('div', { class: 'actions' },
            el('button', { class: 'btn danger small-btn', type: 'submit', disabled: working, text: 'Unlink' }),
            el('button', { class: 'btn secondary small-btn', type: 'button', text: 'Cancel',
                           onclick: () => { view.unlinking = null; render(); } })));
      }
      if (p.linked_ktrack_project_id) {
        return el('button', { class: 'btn secondary small-btn', type: 'button', disabled: working, text: 'Unlink',
                              onclick: () => { view.unlinking = id; render(); } });
      }
      // Link to a new KTrack project made from this one, or to a KTrack project without a link.
      const free = view.ktrack.filter((k) => k.procore_project_id == null);
      const target = targetOf(p);
      const blocked = working || p.permitted === false;
      return el('div', { class: 'link-form' },
        free.length ? el('select', { class: 'link-target', 'aria-label': `KTrack project for ${p.name || p.id}`, disabled: blocked,
                                     onchange: (e) => { view.target.set(id, e.currentTarget.value); } },
          el('option', { value: 'new', text: 'New KTrack project', selected: target === 'new' }),
          el('optgroup', { label: 'Existing KTrack project' },
            free.map((k) => el('option', { value: String(k.id), text: k.name || `KTrack project ${k.id}`, selected: target === String(k.id) })))) : null,
        el('button', { class: 'btn small-btn', type: 'button', disabled: blocked,
                       text: working ? 'Linking…' : 'Link',
                       title: p.permitted === false ? 'Add it to the app’s permitted projects in Procore first.'
                         : target === 'new' ? 'Create a KTrack project from it and sync it' : 'Link it to the chosen KTrack project and sync it',
                       onclick: () => link(p) }));
    }

    // What linking answered: the KTrack project, and the project-level permission check for the settings.
    function linkResult(p) {
      const answer = view.linked.get(String(p.id));
      if (!answer) return null;
      const checks = (answer.permissions && answer.permissions.checks) || [];
      const failures = checks.filter((c) => c.status !== 'ok');
      return el('tr', { class: 'link-result', 'data-result-for': p.id, 'data-key': `r${p.id}` }, el('td', { colspan: 6 },
        el('div', { class: `alert ${failures.length ? 'error' : 'ok'}` },
          el('strong', { text: `Linked to KTrack project “${answer.ktrack_project_name || p.name}”.` }),
          checks.length ? ` ${failures.length ? `${failures.length} of ${checks.length} permission checks failed; its data syncs once they pass.` : `All ${checks.length} permission checks passed; its data is syncing.`}` : '',
          // Not permitted, the project fails every tool for that one reason: said once.
          failures.filter((c, i) => c.status !== 'project_not_permitted' || failures.findIndex((x) => x.status === c.status) === i)
            .map((c) => el('div', { class: 'fix' }, el('span', { class: `badge ${c.status}`, text: CHECK_LABELS[c.status] || c.status }),
              c.status === 'project_not_permitted' ? ` ${c.fix || ''}` : ` ${c.tool}: ${c.fix || ''}`)))));
    }

    function render() {
      const pages = Math.max(1, Math.ceil(view.total / PER_PAGE));
      $('#project-count').textContent = count(view.total, 'project');
      fillKeyed($('#projects-table tbody'), ...(view.list.length ? view.list.flatMap((p) => [el('tr', { 'data-project-id': p.id, 'data-key': `p${p.id}` },
        el('td', {}, el('strong', { text: p.name || p.display_name || `Project ${p.id}` }),
          el('div', { class: 'small muted', text: [p.project_number, p.active === false ? 'Inactive' : null].filter(Boolean).join(' · ') || `#${p.id}` }),
          p.listed === false ? el('div', { class: 'small unlisted', text: 'Procore no longer lists it for KTrack’s app.' }) : null),
        el('td', { class: 'small', 'data-label': 'Stage', text: p.stage || '—' }),
        el('td', { 'data-label': 'Procore access' }, p.permitted === false
          ? [el('span', { class: 'badge project_not_permitted', text: 'Not permitted' }),
             el('div', { class: 'small muted access-fix', text: p.fix || 'Add it to the app’s permitted projects in Procore, then link it.' })]
          // Beyond the permission check's sample, a project whose data syncs shows Procore permits it.
          : p.permission_checked === false && p.sync_status !== 'synced'
            ? el('span', { class: 'badge', text: 'Not checked', title: 'KTrack’s permission check reads a sample of a large company’s projects; linking checks this one.' })
            : el('span', { class: 'badge ok', text: 'Permitted' })),
        el('td', { class: 'small', 'data-label': 'KTrack project' }, p.linked_ktrack_project_id
          ? el('a', { href: `/clients/${clientId}/projects/${p.linked_ktrack_project_id}`, text: p.ktrack_project_name || `KTrack project ${p.linked_ktrack_project_id}` })
          : el('span', { class: 'muted', text: 'Not linked' })),
        el('td', { 'data-label': 'Sync' }, syncBadge(p), syncProblem(p)),
        el('td', { class: 'actions-cell' }, actions(p))), linkResult(p)])
        : [el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'No projects match.' }))]));
      renderPager($('#projects-pager'), view.page, pages, (page) => { view.page = page; load(); });
    }

    // The server pages, searches and filters: fast with a thousand projects.
    let seq = 0;
    async function load() {
      const mine = ++seq;
      const q = $('#project-search').value.trim();
      const path = `/projects?page=${view.page}&per_page=${PER_PAGE}${FILTERS[$('#project-filter').value] || ''}` +
        (q ? `&q=${encodeURIComponent(q)}` : '');
      try {
        const [{ data, headers }, ktrack] = await Promise.all([
          api('GET', path, undefined, { withHeaders: true }),
          api('GET', '/ktrack-projects').catch(() => []),  // without them, linking offers a new project only
        ]);
        if (mine !== seq) return;  // a newer search answered first
        view.ktrack = Array.isArray(ktrack) ? ktrack : [];
        view.list = Array.isArray(data) ? data : [];
        view.total = Number(headers.get('Total') || view.list.length);
        showError($('#page-error'), null);
        render();
        // While a linked project syncs, its badge follows without a reload.
        clearTimeout(view.refresh);
        if (view.list.some((p) => p.linked_ktrack_project_id && p.sync_status && p.sync_status !== 'synced')) {
          view.refresh = setTimeout(load, document.hidden ? 15000 : 3000);
        }
      } catch (err) {
        showError($('#page-error'), err);
      }
    }

    async function link(p) {
      view.busy.add(String(p.id)); render();
      try {
        const target = targetOf(p);
        const answer = await api('POST', `/projects/${p.id}/link`, target === 'new' ? { create: true } : { ktrack_project_id: Number(target) });
        view.target.delete(String(p.id));
        view.linked.set(String(p.id), answer || {});
        await load();
      } catch (err) { showError($('#page-error'), err); } finally { view.busy.delete(String(p.id)); render(); }
    }

    async function unlink(p, form) {
      const purge = $('input[name=purge]', form).checked;
      view.busy.add(String(p.id)); render();
      try {
        await api('DELETE', `/projects/${p.id}/link`, { purge_data: purge });
        view.unlinking = null;
        view.linked.delete(String(p.id));
        await load();
      } catch (err) { showError($('#page-error'), err); } finally { view.busy.delete(String(p.id)); render(); }
    }

    let typing = null;
    $('#project-search').addEventListener('input', () => {
      clearTimeout(typing);
      typing = setTimeout(() => { view.page = 1; load(); }, 250);
    });
    $('#project-filter').addEventListener('change', () => { view.page = 1; load(); });
    // The list is KTrack's copy of Procore's: read again now, for a project just added to the permitted ones.
    wireReconcile($('#refresh-projects'), () => ({ stream: 'projects' }),
      () => 'Reading the project list from Procore: a project Procore now permits appears here within seconds.',
      async () => { for (const ms of [2000, 6000]) setTimeout(() => load().catch(() => {}), ms); },
      { done: '#projects-refresh-result', error: '#projects-refresh-error' });

    (async () => {
      try {
        const integration = await loadIntegration();
        if (['not_started', 'disconnected'].includes(integration.status)) {
          nextAction('Connect Procore first.', { href: `/clients/${clientId}/procore/integrate`, text: 'Integrate with Procore →' });
          return;
        }
        nextAction('Link a Procore project to a KTrack project: its project-level data then syncs.');
        show($('#projects-toolbar'), true);
        show($('#projects-wrap'), true);
        show($('#projects-note'), true);
        await load();
      } catch (err) {
        showError($('#page-error'), err);
        nextAction('');
      }
    })();
  }

  // ---------------------------------------------------------------------------------------------------------
  // A KTrack project: the Procore project linked to it, and that project's streams.

  function ktrackProjectPage() {
    const id = Number(location.pathname.split('/').pop());
    // A member reads the page; linking projects (the Procore projects page) is an admin's.
    const isAdmin = root.dataset.isAdmin === 'true';
    const toProjects = isAdmin ? { href: `/clients/${clientId}/procore/projects`, text: 'Procore projects →' } : null;
    const lastSynced = (iso) => (iso ? when(iso) : 'Not yet');
    let procoreProjectId = null;
    let followUntil = 0;  // after Reconcile, the page follows the streams for a while though they show synced
    let timer = null;
    async function load() {
      if (timer) { clearTimeout(timer); timer = null; }
      const projects = await api('GET', '/ktrack-projects');
      const project = (Array.isArray(projects) ? projects : []).find((k) => k.id === id);
      if (!project) {
        nextAction('There is no such KTrack project in this client.', toProjects || { href: `/clients/${clientId}`, text: 'The client’s projects →' });
        return;
      }
      $('#ktrack-project-name').textContent = project.name || `KTrack project ${project.id}`;
      $('#crumb-name').textContent = project.name || `KTrack project ${project.id}`;
      const facts = $('#ktrack-project-facts');
      fill(facts,
        el('dt', { text: 'Number' }), el('dd', { text: project.project_number || '—' }),
        el('dt', { text: 'Procore project' }), el('dd', { 'data-procore-project-id': project.procore_project_id ?? '' },
          project.procore_project_id == null ? el('span', { class: 'muted', text: 'Not linked' })
            : `${project.procore_project_name || 'Procore project'} (#${project.procore_project_id})`));
      show(facts, true);
      if (project.procore_project_id == null) {
        nextAction(isAdmin ? 'Link it to a Procore project to sync its data.'
          : 'It is not linked to a Procore project yet: an admin of this client links it from the Procore projects page.', toProjects);
        show($('#ktrack-streams-title'), false);
        show($('#ktrack-streams-hint'), false);
        show($('#records-panel'), false);
        show($('#ktrack-streams-wrap'), false);
        return;
      }
      procoreProjectId = project.procore_project_id;
      const streams = (await api('GET', '/streams')).filter((s) => s.project_id === project.procore_project_id);
      // Stopped on an error (waiting for a fix, or KTrack retrying later) is neither syncing nor in step.
      const failing = streams.filter((s) => s.error).length;
      const waiting = streams.some((s) => !s.error && s.status !== 'synced' && s.status !== 'paused');
      const stopped = failing === 1 && streams.length === 1 ? 'Its one stream' : failing === streams.length
        ? `All ${streams.length} of its streams` : `${failing} of its ${streams.length} streams`;
      nextAction(failing ? `${stopped} stopped on an error; ${isAdmin ? 'what to do is below' : 'the fix below is for an admin of this client or of Procore'}.`
        : waiting ? 'Its Procore data is syncing; this page follows it.' : 'Its Procore data is in step with Procore.');
      renderStreamErrors($('#stream-errors'), streams);
      // Kept in place when unchanged, so a refresh never swaps a stream's button out from under a click.
      fillKeyed($('#ktrack-streams-table tbody'), ...(streams.length ? streams.map((s) => el('tr', { 'data-stream': s.stream, 'data-status': s.status, 'data-key': s.stream },
        el('td', {}, el('button', { class: 'link-button', type: 'button', title: 'Show the records KTrack holds',
          onclick: () => recordsView.open(s.stream, project.procore_project_id, null) }, el('strong', { text: streamLabel(s.stream) }))),
        el('td', {}, el('span', { class: `badge ${s.status}`, text: STREAM_STATUS_LABELS[s.status] || s.status }),
          !s.error && s.status === 'paused' ? el('div', { class: 'small muted', text: 'Not chosen in the integration settings; what was synced is kept.' }) : null),
        el('td', { class: 'count', text: number(s.count || 0) }),
        el('td', { class: 'small', text: lastSynced(s.last_synced_at) })))
        : [el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'No Procore data is chosen for projects in the integration settings.' }))]));
      show($('#ktrack-streams-title'), true);
      show($('#ktrack-streams-hint'), streams.length > 0);
      show($('#ktrack-streams-wrap'), true);
      // Followed closely while it syncs, and every 15 s while streams wait on a fix (to show them resume).
      if (waiting || failing || Date.now() < followUntil)
        timer = setTimeout(() => load().catch((err) => showError($('#page-error'), err)),
          document.hidden || (failing && !waiting) ? 15000 : waiting ? 3000 : 2000);
    }

    wireReconcile($('#reconcile-project'), () => ({ project_id: procoreProjectId }),
      (n) => `Reconciling this project’s ${count(n, 'stream')} with Procore: any difference is repaired.`,
      async () => { followUntil = Date.now() + 30000; await load(); });
    load().catch((err) => { showError($('#page-error'), err); nextAction(''); });
  }

  const pages = { setup: setupPage, details: detailsPage, projects: projectsPage, ktrack_project: ktrackProjectPage };
  if (pages[root.dataset.page]) pages[root.dataset.page]();
})();
