// Browser-test harness: starts ktrack and the Procore emulator on port 0, creates users with the CLI,
// launches Debian's Chromium through playwright-core, and saves screenshots under build/e2e-artifacts/.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const binDir = process.env.KTRACK_BIN_DIR || path.join(root, 'build', 'bin');
const artifactsDir = path.join(root, 'build', 'e2e-artifacts');

function startServer(binary, args, env = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(binDir, binary), args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`${binary} did not print 'listening on' in time:\n${out}\n${err}`)), 30000);
    child.stdout.on('data', (d) => {
      out += d.toString();
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, binary, url: m[1], stderr: () => err });
      }
    });
    child.stderr.on('data', (d) => { err += d.toString(); });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`${binary} exited with ${code}:\n${err}`)); });
  });
}

// Each server's output is kept beside the screenshots (build/e2e-artifacts/<binary>-<pid>.log), so a failed run can
// be read afterwards; scripts/run-tests prints their tails when a browser test fails.
function keepLog(server) {
  if (!server || server.logKept) return;
  server.logKept = true;
  fs.mkdirSync(artifactsDir, { recursive: true });
  fs.writeFileSync(path.join(artifactsDir, `${server.binary}-${server.child.pid}.log`), server.stderr());
}

function stop(server) {
  if (!server) return Promise.resolve();
  if (server.child.exitCode !== null) { keepLog(server); return Promise.resolve(); }
  return new Promise((resolve) => {
    const done = () => { keepLog(server); resolve(); };
    server.child.removeAllListeners('exit');
    server.child.on('exit', done);
    server.child.kill('SIGTERM');
    setTimeout(() => { server.child.kill('SIGKILL'); done(); }, 5000).unref();
  });
}

function ktrack(dataDir, args) {
  const out = execFileSync(path.join(binDir, 'ktrack'), [...args, '--data-dir', dataDir, '--json'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

async function launchBrowser() {
  const { chromium } = require('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

// Transitions (the progress bar's fill) are run to their end first, so a screenshot shows the state the page
// has settled on rather than a frame of the animation towards it.
async function screenshot(page, name) {
  fs.mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

async function signIn(page, baseUrl, email, password) {
  await page.goto(`${baseUrl}/signin`);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
}

module.exports = { startServer, stop, ktrack, tempDir, launchBrowser, screenshot, signIn, binDir, artifactsDir };

// The Procore emulator beside KTrack: started on port 0, driven through its control API (interfaces.md).
async function startEmulator(preset = 'small', extraArgs = []) {
  const server = await startServer('procore-emulator', ['--listen', '127.0.0.1:0', '--preset', preset, ...extraArgs]);
  server.control = async (method, pathname, body) => {
    const res = await fetch(server.url + pathname, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${method} ${pathname}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return server;
}

// Waits until check() returns a truthy value (polled), or fails with what it last saw.
async function waitFor(check, { timeoutMs = 60000, intervalMs = 500, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

module.exports.startEmulator = startEmulator;
module.exports.waitFor = waitFor;
