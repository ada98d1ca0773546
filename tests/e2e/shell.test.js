// The web shell as a person uses it: sign in, pick the client, open the gear menu, reach Concierge as an
// admin; a member sees no gear menu and is refused Concierge.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const h = require('./harness');

test('admin reaches Concierge through the gear menu; a member does not see it', async (t) => {
  const dir = h.tempDir('ktrack-e2e-shell-');
  const client = h.ktrack(dir, ['client', 'add', '--name', 'Harbor Point Developments']);
  h.ktrack(dir, ['client', 'add', '--name', 'Other Owner LLC']);
  h.ktrack(dir, ['user', 'add', '--client', String(client.id), '--email', 'dana@harborpoint.test', '--password', 'site-visit-42', '--role', 'admin']);
  h.ktrack(dir, ['user', 'add', '--client', String(client.id), '--email', 'sam@harborpoint.test', '--password', 'site-visit-42', '--role', 'member']);
  const server = await h.startServer('ktrack', ['serve', '--listen', '127.0.0.1:0', '--data-dir', dir]);
  const browser = await h.launchBrowser();
  t.after(async () => { await browser.close(); await h.stop(server); fs.rmSync(dir, { recursive: true, force: true }); });

  const admin = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await h.signIn(admin, server.url, 'dana@harborpoint.test', 'site-visit-42');
  assert.match(admin.url(), /\/clients$/);
  await h.screenshot(admin, 'shell-01-client-picker');
  await Promise.all([admin.waitForNavigation(), admin.click(`a[data-client-id="${client.id}"]`)]);
  assert.match(await admin.textContent('h1'), /Harbor Point Developments/);
  await admin.click('#gear-menu summary');
  assert.ok(await admin.isVisible('#gear-menu a:has-text("Concierge")'));
  await h.screenshot(admin, 'shell-02-gear-menu');
  await Promise.all([admin.waitForNavigation(), admin.click('#gear-menu a:has-text("Concierge")')]);
  assert.match(admin.url(), new RegExp(`/clients/${client.id}/concierge$`));
  assert.ok(await admin.isVisible('text=Integrate with Procore'));
  await h.screenshot(admin, 'shell-03-concierge');

  // The same pages at a phone's width stay usable.
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await h.signIn(phone, server.url, 'dana@harborpoint.test', 'site-visit-42');
  await phone.goto(`${server.url}/clients/${client.id}/concierge`);
  await h.screenshot(phone, 'shell-04-concierge-phone');

  const member = await (await browser.newContext()).newPage({ viewport: { width: 1280, height: 800 } });
  await h.signIn(member, server.url, 'sam@harborpoint.test', 'site-visit-42');
  await member.goto(`${server.url}/clients/${client.id}`);
  assert.strictEqual(await member.locator('#gear-menu').count(), 0, 'a member has no gear menu');
  const refused = await member.goto(`${server.url}/clients/${client.id}/concierge`);
  assert.strictEqual(refused.status(), 403);
  // The refusal keeps the member's menu, and leads back to the client's home, which a member may see.
  assert.ok(await member.isVisible('#user-menu'), 'the header menu (switch client, sign out)');
  assert.strictEqual(await member.getAttribute('main a:has-text("Back to")', 'href'), `/clients/${client.id}`);
  assert.match(await member.textContent('main a:has-text("Back to")'), /^Back to Harbor Point/);
  await h.screenshot(member, 'shell-05-member-refused');
});
