// The operations dashboard (docs/dashboard.md) in a real browser: Debian's chromium, headless,
// driven by puppeteer-core (pinned in package.json; `npm ci` in tests/dashboard).
//
//   node tests/dashboard/dashboard_test.mjs /path/to/paymentctl [SCREENSHOT.png]
//
// A fresh database in a temp dir, a real `paymentctl serve` on 127.0.0.1 (a free port), real
// payments through the API (authorize, capture, refund, void, declines, a velocity refusal, a
// payout, a settlement), then the page: opened with the admin key, and checked for what it
// draws (payment rows, a timeline with its ledger entry, the approval rate, the balances, the
// ledger verification, velocity hits per rule, the events feed). The screenshot is written
// to SCREENSHOT.png (ctest passes build/<dir>/dashboard.png) and its path printed.
// Exit 0: all passed; 1: a failure; 77: skipped (no puppeteer-core or no chromium, outside CI).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname);
function skip(why) {
  if (process.env.CI) {
    console.error(`error: ${why}`);
    process.exit(1);
  }
  console.log(`skipped: ${why}`);
  process.exit(77);
}
if (!fs.existsSync(path.join(here, 'node_modules', 'puppeteer-core', 'package.json'))) {
  skip('tests/dashboard/node_modules/puppeteer-core is missing: run npm ci --prefix tests/dashboard');
}
const chromium = process.env.CHROMIUM ||
  ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
if (!chromium) skip('no chromium (scripts/install-deps.sh installs Debian\'s)');
const { default: puppeteer } = await import('puppeteer-core');

if (!process.argv[2]) {
  console.error('usage: node tests/dashboard/dashboard_test.mjs /path/to/paymentctl [SCREENSHOT.png]');
  process.exit(2);
}
const bin = path.resolve(process.argv[2]);
const screenshot = path.resolve(process.argv[3] || 'dashboard.png');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pay-dashboard-'));
const db = path.join(dir, 'pay.db');
// A velocity rule for the velocity panel: at most 1,000.00 USD authorized per card and day.
const rules = path.join(dir, 'velocity.toml');
fs.writeFileSync(rules, `[[rule]]
name = "card_amount_daily"
operations = ["authorize"]
channels = ["server"]
key = ["card"]
measure = "amount"
currency = "USD"
  [[rule.window]]
  algorithm = "fixed_window"
  window = "24h"
  limit = "1000.00"
`);

// ---- harness (as tests/stripe) --------------------------------------------------------------

let passed = 0, failed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (err) {
    failed++;
    console.log(`not ok - ${name}`);
    console.log(String(err?.stack ?? err).replace(/^/gm, '    '));
  }
}

function ctl(...args) {
  const r = spawnSync(bin, ['--db', db, ...args], { cwd: dir, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`paymentctl ${args.join(' ')}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function startServer() {
  // Authorizations valid for 12 hours: an open one is "expiring within a day".
  const proc = spawn(bin, ['--db', db, '--config', rules, '--authorization-validity', '12h', 'serve', '--listen', '127.0.0.1:0', '--access-log', 'off'], {
    cwd: dir, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (e) => (proc.kill('SIGKILL'), reject(e));
    proc.on('error', fail);
    exited.then(({ code, signal }) => reject(new Error(`paymentd exited (${code ?? signal}) before listening:\n${out}${err}`)));
    proc.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      const m = /^paymentd listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out.slice(0, nl));
      if (!m) return fail(new Error(`unexpected first line from paymentd: ${out.slice(0, nl)}\n${err}`));
      resolve({ proc, port: Number(m[1]), exited, stderr: () => err });
    });
  });
}

async function stopServer(server) {
  server.proc.kill('SIGTERM');
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(resolve, 30_000, null); });
  const exit = await Promise.race([server.exited, late]);
  clearTimeout(timer);
  if (!exit) {
    server.proc.kill('SIGKILL');
    await server.exited;
    assert.fail('paymentd did not stop within 30 s of SIGTERM (killed)');
  }
  assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', `paymentd stopped with ${exit.code ?? exit.signal}`);
}

// ---- the API --------------------------------------------------------------------------------

let base = '';
let keyCount = 0;
async function call(method, urlPath, key, body, want = 200) {
  const headers = { Authorization: `Bearer ${key}` };
  if (method === 'POST') headers['Idempotency-Key'] = `dash-${++keyCount}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(base + urlPath, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  assert.equal(res.status, want, `${method} ${urlPath}: ${res.status} ${text.slice(0, 300)}`);
  return text && res.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text;
}
const card = (number) => ({ number, expiry: '12/34', cvv: '123' });
const authorize = (key, number, amount, want = 200) =>
  call('POST', '/v1/payments/authorize', key, { card: card(number), amount, currency: 'USD' }, want);

// ---- the steps ------------------------------------------------------------------------------

const made = {};  // what the API answered, for the page's checks

async function makePayments(admin, acme) {
  await call('POST', '/v1/merchants', admin, { id: 'beta', currency: 'USD', fee_bps: 250, fee_fixed: '0.30' });
  const paid = await authorize(acme, '4242424242424242', '100.00');
  made.paid = paid.payment_id;
  await call('POST', `/v1/payments/${made.paid}/capture`, acme, { amount: '60.00', final: true });
  await call('POST', `/v1/payments/${made.paid}/refund`, acme, { amount: '5.00' });
  const voided = await authorize(acme, '5555555555554444', '40.00');
  await call('POST', `/v1/payments/${voided.payment_id}/void`, acme, {});
  const declined = await authorize(acme, '4000000000000002', '5.00', 402);
  made.declined = declined.error.payment.payment_id;
  await authorize(acme, '4000000000009995', '7.00', 402);  // 51: insufficient funds
  const velocity = await authorize(acme, '4242424242424242', '1500.00', 402);  // over the rule
  assert.equal(velocity.error.rule, 'card_amount_daily');
  const open = await authorize(acme, '5555555555554444', '20.00');
  made.open = open.payment_id;
  const payout = await call('POST', '/v1/disbursements', acme,
    { card: { number: '5555555555554444' }, amount: '25.00', currency: 'USD', purpose: 'FD', recipient_name: 'Ada Lovelace' });
  made.payout = payout.payment_id;
  const settled = await call('POST', '/v1/admin/settle', admin);
  assert.equal(settled.payments, 1);
}

async function checkSummary(admin, acme) {
  const s = await call('GET', '/v1/admin/dashboard', admin);
  assert.equal(s.object, 'dashboard_summary');
  assert.deepEqual(s.approval, { authorizations: 5, approved: 3, declined: 2 });
  assert.deepEqual(s.declines.map((d) => [d.response_code, d.decline_code, d.count]),
    [['05', 'do_not_honor', 1], ['51', 'insufficient_funds', 1]]);
  const m = s.merchants.find((x) => x.merchant === 'acme');
  assert.equal(m.captured, '60.00');
  assert.equal(m.refunded, '5.00');
  assert.equal(m.paid_out, '25.00');
  assert.equal(m.balances.prefunded.balance, '4975.00');
  assert.equal(s.settlements.length, 1);
  assert.equal(s.settlements[0].net, '55.00');
  assert.equal(s.payouts.recent[0].payment_id, made.payout);
  assert.equal(s.expiring.total, 1);
  assert.equal(s.expiring.payments[0].payment_id, made.open);
  assert.equal(s.expiring.payments[0].capturable, '20.00');
  assert.equal(s.in_doubt.total, 0);
  made.summary = s;
  const v = await call('GET', '/v1/ledger/verify', admin);
  assert.equal(v.ok, true);
  await call('GET', '/v1/admin/dashboard', acme, undefined, 403);
  await call('GET', '/v1/ledger/verify', acme, undefined, 403);
  const page = await fetch(base + '/dashboard');
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy'), /script-src 'self'/);
  assert.equal((await fetch(base + '/dashboard/nope.js')).status, 404);
  assert.equal((await fetch(base + '/dashboard/')).headers.get('content-type'), 'text/html; charset=utf-8');
  // The events feed is another route (it may not be served yet): the page copes either way.
  made.events = (await fetch(base + '/v1/events?limit=50', { headers: { Authorization: `Bearer ${admin}` } })).status;
}

async function checkPage(browser, admin, acme) {
  const page = await browser.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of (403|404)/.test(m.text())) problems.push(`console: ${m.text()}`); });
  await page.setViewport({ width: 1400, height: 1000 });
  await page.goto(base + '/dashboard', { waitUntil: 'load' });
  const text = (sel) => page.$eval(sel, (e) => e.textContent.trim());
  assert.equal(await page.$eval('body', (b) => b.dataset.state), 'locked');

  // A merchant key is refused, and the page says so.
  await page.click('#live');  // no refresh while the test reads the page
  await page.type('#key', acme);
  await page.click('#key-use');
  await page.waitForSelector('body[data-state="error"]');
  assert.match(await text('#status'), /refused \(403\)/);

  await page.type('#key', admin);
  await page.click('#key-use');
  await page.waitForSelector('body[data-state="ready"], body[data-state="partial"]', { timeout: 20_000 });
  assert.equal(await page.$eval('body', (b) => b.dataset.state), 'ready', await text('#status'));
  assert.equal(await text('#approval-rate'), '60.0 %');
  assert.match(await text('#approval-counts'), /3 approved of 5 authorizations, 2 declined/);
  assert.equal(await text('#verify-result'), 'OK');
  await page.click('#verify-run');
  await page.waitForFunction(() => document.getElementById('verify-result').textContent === 'OK');
  assert.equal(await page.$$eval('#approval-chart svg rect', (r) => r.length) >= 3, true, 'the chart has bars');
  const declines = await page.$$eval('#declines tbody tr', (rows) => rows.map((r) => r.cells[0].textContent));
  assert.deepEqual(declines, ['05', '51']);

  const merchants = await page.$$eval('#merchant-table tbody tr', (rows) => rows.map((r) => [...r.cells].map((c) => c.textContent)));
  const acmeRow = merchants.find((r) => r[0] === 'acme');
  assert.ok(acmeRow, `acme in ${JSON.stringify(merchants)}`);
  assert.equal(acmeRow[2], '60.00 USD');
  assert.equal(acmeRow[9], '4975.00', 'the prefunded balance');
  assert.ok(merchants.some((r) => r[0] === 'beta'));

  const rows = await page.$$eval('#payment-table tbody tr', (rs) => rs.map((r) => r.dataset.payment));
  for (const id of [made.paid, made.declined, made.open, made.payout]) assert.ok(rows.includes(id), `${id} in ${rows}`);
  assert.equal(rows[0], made.payout, 'newest first');

  // A payment's timeline, and a ledger entry of it.
  await page.click(`#payment-table tr[data-payment="${made.paid}"]`);
  await page.waitForFunction((id) => document.getElementById('timeline-id').textContent === id, {}, made.paid);
  const steps = await page.$$eval('#timeline-steps li', (lis) => lis.map((li) => li.textContent));
  for (const op of ['authorize', 'capture', 'refund', 'settle']) {
    assert.ok(steps.some((s) => s.startsWith(op)), `${op} in ${JSON.stringify(steps)}`);
  }
  assert.ok(steps.some((s) => /^authorize 100\.00 USD .*response 00/.test(s)), JSON.stringify(steps));
  await page.click('#timeline-steps button[data-entry]');
  await page.waitForSelector('#entry:not([hidden]) #entry-postings tbody tr');
  const accounts = await page.$$eval('#entry-postings tbody tr', (rs) => rs.map((r) => r.cells[0].textContent));
  assert.ok(accounts.some((a) => a.startsWith('m/acme/')), JSON.stringify(accounts));

  // Filters: the declined ones only.
  await page.select('#filter-status', 'declined');
  await page.waitForFunction(() => [...document.querySelectorAll('#payment-table tbody tr')].every((r) => r.cells[4]?.textContent === 'declined'));
  assert.equal(await page.$$eval('#payment-table tbody tr', (rs) => rs.length), 2);

  assert.match(await text('#payout-table tbody'), /Ada Lovelace/);
  assert.equal(await text('#expiring-total'), '1');
  assert.match(await text('#doubt-table tbody'), new RegExp(`${made.open}.*20\\.00 USD expires`));
  assert.match(await text('#settlement-table tbody'), /55\.00 USD/);
  const velocity = await page.$$eval('#velocity-table tbody tr', (rs) => rs.map((r) => [r.cells[0].textContent, Number(r.cells[1]?.textContent)]));
  assert.deepEqual(velocity, [['card_amount_daily', 1]], 'velocity hits per rule (/metrics)');
  // The events feed (docs/events.md), newest first. (Without the route the panel says "no events".)
  assert.equal(made.events, 200, 'GET /v1/events');
  const events = await page.$$eval('#event-table tbody tr', (rs) => rs.map((r) => [r.cells[3]?.textContent, r.cells[5]?.textContent]));
  for (const [type, object] of [['payment.authorized', made.paid], ['payment.captured', made.paid], ['payment.refunded', made.paid],
    ['payment.declined', made.declined], ['payout.completed', made.payout], ['velocity.hit', ''], ['settlement.completed', '']]) {
    assert.ok(events.some(([t, o]) => t === type && o === object), `${type} ${object} in ${JSON.stringify(events)}`);
  }
  assert.equal(events[0][0], 'settlement.completed', 'newest first');
  await page.select('#filter-status', '');
  await page.waitForFunction(() => document.querySelectorAll('#payment-table tbody tr').length > 2);
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`# screenshot: ${screenshot}`);
  assert.deepEqual(problems, []);
  await page.close();
}

// ---- main -----------------------------------------------------------------------------------

let server = null, browser = null;
const watchdog = setTimeout(() => {
  console.log('not ok - the test did not finish within 180 s');
  server?.proc.kill('SIGKILL');
  browser?.process()?.kill('SIGKILL');
  process.exit(1);
}, 180_000);
watchdog.unref();

try {
  let admin, acme;
  await step('setup: init, merchant, keys, prefunding', () => {
    ctl('init');
    ctl('merchant', 'create', 'acme', '--currency', 'USD', '--fee-bps', '0');
    admin = ctl('apikey', 'create', '--admin').split('\n')[0].trim();
    acme = ctl('--merchant', 'acme', 'apikey', 'create').split('\n')[0].trim();
    ctl('fund', 'acme', '--amount', '5000.00', '--currency', 'USD', '--key', 'topup-1');
  });
  if (admin) await step('paymentd starts on a free port', async () => { server = await startServer(); });
  if (server) {
    base = `http://127.0.0.1:${server.port}`;
    try {
      await step('payments through the API', () => makePayments(admin, acme));
      await step('the summary, verify and the page routes', () => checkSummary(admin, acme));
      await step('chromium starts headless', async () => {
        const args = ['--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'];
        if (process.getuid?.() === 0) args.push('--no-sandbox');
        browser = await puppeteer.launch({ executablePath: chromium, headless: true, args, timeout: 60_000 });
      });
      if (browser) await step('the dashboard shows what happened', () => checkPage(browser, admin, acme));
    } finally {
      if (browser) await browser.close().catch(() => {});
      await step('paymentd stops on SIGTERM', () => stopServer(server));
      await step('the books verify', () => ctl('ledger', 'verify'));
      if (failed && server.stderr()) console.log(`paymentd's stderr:\n${server.stderr().replace(/^/gm, '    ')}`);
    }
  }
} finally {
  if (process.env.DASHBOARD_TEST_KEEP) console.log(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
