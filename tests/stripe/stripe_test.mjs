// The Stripe-compatible facade of paymentd, proved with Stripe's own Node client (docs/stripe-compat.md).
//
//   node tests/stripe/stripe_test.mjs /path/to/paymentctl
//
// A fresh database in a temp dir, a real `paymentctl serve` on 127.0.0.1 (a free port), the
// official `stripe` package (pinned in package.json; `npm ci` in tests/stripe) talking to it over
// TCP. At the end the server is stopped and the books are checked with paymentctl itself.
// Exit 0: all passed; 1: a failure; 77: skipped (the stripe package is not installed, outside CI).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname);
if (!fs.existsSync(path.join(here, 'node_modules', 'stripe', 'package.json'))) {
  if (process.env.CI) {
    console.error('error: tests/stripe/node_modules/stripe is missing: run npm ci in tests/stripe');
    process.exit(1);
  }
  console.log('skipped: run npm ci in tests/stripe');
  process.exit(77);
}
const { default: Stripe } = await import('stripe');

if (!process.argv[2]) {
  console.error('usage: node tests/stripe/stripe_test.mjs /path/to/paymentctl');
  process.exit(2);
}
const bin = path.resolve(process.argv[2]);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pay-stripe-'));
const db = path.join(dir, 'pay.db');
// A velocity rule the server enforces: at most 1,000.00 USD authorized per card and day.
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

// ---- harness --------------------------------------------------------------------------------

let passed = 0, failed = 0;
async function step(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (err) {
    failed++;
    console.log(`not ok - ${name}`);
    console.log(indent(brief(err?.stack ?? String(err))));
    for (let e = err; e; e = e.cause) {
      if (e.raw) console.log(indent(`${e.type} raw: ${rawOf(e)}`));
    }
  }
}
const indent = (s) => String(s).replace(/^/gm, '    ');
// A stack without the frames of node's internals and the client's (its message and ours stay).
const brief = (stack) => stack.split('\n').filter((l) => !/^\s+at /.test(l) || l.includes('stripe_test.mjs')).join('\n');
const rawOf = (err) => JSON.stringify({ ...err.raw, headers: undefined });

// paymentctl --db DB ARGS... in the temp dir; throws unless it exits 0.
function ctl(...args) {
  const r = spawnSync(bin, ['--db', db, ...args], { cwd: dir, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`paymentctl ${args.join(' ')}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

// The Stripe error a promise rejects with, checked for its type and the given fields.
async function stripeError(promise, type, fields = {}) {
  let err;
  try {
    const res = await promise;
    assert.fail(`expected ${type}, got a success: ${JSON.stringify(res)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  if (err.type !== type) throw new Error(`expected ${type}, got ${err.type}: ${err.message}`, { cause: err });
  assert.ok(err instanceof Stripe.errors[type], `instanceof Stripe.errors.${type}`);
  for (const [k, v] of Object.entries(fields)) assert.equal(err[k], v, `err.${k} (raw: ${rawOf(err)})`);
  return err;
}

// Every pi_/po_ id the test made the engine create; each must be one payment in the books.
const created = new Set();
const track = (obj) => (created.add(obj.id), obj);

const now = () => Math.floor(Date.now() / 1000);
function assertCommon(obj, object, prefix) {
  assert.equal(obj.object, object);
  assert.match(obj.id, new RegExp(`^${prefix}_\\w+$`));
  assert.equal(obj.currency, 'usd');
  if (object !== 'refund' || 'livemode' in obj) assert.equal(obj.livemode, false);  // Stripe's refunds have none
  assert.ok(Number.isInteger(obj.created) && Math.abs(obj.created - now()) < 3600, `created ${obj.created} is unix seconds`);
}
function assertPaymentIntent(pi, want) {
  assertCommon(pi, 'payment_intent', 'pi');
  for (const [k, v] of Object.entries(want)) assert.deepEqual(pi[k], v, `payment_intent.${k}`);
  return pi;
}

// ---- the server ---------------------------------------------------------------------------------

// Starts paymentd on a free port; resolves with {proc, port, stderr()} once it prints its address.
function startServer() {
  const proc = spawn(bin, ['--db', db, '--config', rules, 'serve', '--listen', '127.0.0.1:0', '--access-log', 'off'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return new Promise((resolve, reject) => {
    let out = '';
    const fail = (e) => (proc.kill('SIGKILL'), reject(e));
    proc.on('error', fail);
    exited.then(({ code, signal }) =>
      reject(new Error(`paymentd exited (${code ?? signal}) before listening:\n${out}${err}`)));
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

// ---- the steps --------------------------------------------------------------------------------------

const card = (number) => ({ type: 'card', card: { number, exp_month: 12, exp_year: 2034, cvc: '123' } });

function serverSteps(stripe) {
  const usd = { currency: 'usd', confirm: true };
  return [
    ['manual capture with partial capture and refund', async () => {
      const pi = track(assertPaymentIntent(await stripe.paymentIntents.create({
        amount: 5000, ...usd, payment_method: 'pm_card_visa', capture_method: 'manual',
        description: 'order 1', metadata: { order_id: 'o-1' },
      }), {
        status: 'requires_capture', amount: 5000, amount_capturable: 5000, amount_received: 0,
        capture_method: 'manual', description: 'order 1',
      }));
      assert.equal(pi.metadata.order_id, 'o-1');
      assertPaymentIntent(await stripe.paymentIntents.retrieve(pi.id), { id: pi.id, status: 'requires_capture' });

      assertPaymentIntent(await stripe.paymentIntents.capture(pi.id, { amount_to_capture: 3000 }), {
        id: pi.id, status: 'succeeded', amount_received: 3000, amount_capturable: 0,
      });

      const re = await stripe.refunds.create({ payment_intent: pi.id, amount: 1000 });
      assertCommon(re, 'refund', 're');
      assert.equal(re.amount, 1000);
      assert.equal(re.status, 'succeeded');
      assert.equal(re.payment_intent, pi.id);
      const again = await stripe.refunds.retrieve(re.id);
      assert.deepEqual([again.id, again.amount, again.status, again.payment_intent], [re.id, 1000, 'succeeded', pi.id]);
      const list = await stripe.refunds.list({ payment_intent: pi.id });
      assert.equal(list.object, 'list');
      assert.ok(list.data.some((r) => r.id === re.id), 'refunds.list has the refund');
      assert.ok(list.data.every((r) => r.payment_intent === pi.id), 'refunds.list only of that payment_intent');

      // 2000 is left: more is refused; no amount refunds the rest; then nothing is left.
      await stripeError(stripe.refunds.create({ payment_intent: pi.id, amount: 2500 }), 'StripeInvalidRequestError', { statusCode: 400 });
      const rest = await stripe.refunds.create({ payment_intent: pi.id });
      assert.equal(rest.amount, 2000);
      assert.notEqual(rest.id, re.id);
      await stripeError(stripe.refunds.create({ payment_intent: pi.id, amount: 1 }), 'StripeInvalidRequestError', { statusCode: 400 });
      // Every refund of the merchant, a page of one at a time.
      const all = [];
      await stripe.refunds.list({ limit: 1 }).autoPagingEach((r) => { all.push(r.id); });
      assert.deepEqual(all, [re.id, rest.id]);
    }],

    ['automatic capture', async () => {
      const omitted = track(assertPaymentIntent(
        await stripe.paymentIntents.create({ amount: 1234, ...usd, payment_method: 'pm_card_visa' }),
        { status: 'succeeded', amount: 1234, amount_received: 1234, amount_capturable: 0 }));
      assert.match(omitted.capture_method, /^automatic/);
      track(assertPaymentIntent(
        await stripe.paymentIntents.create({ amount: 700, ...usd, payment_method: 'pm_card_visa', capture_method: 'automatic' }),
        { status: 'succeeded', amount: 700, amount_received: 700, capture_method: 'automatic' }));
    }],

    ['cancel a requires_capture PaymentIntent', async () => {
      const pi = track(await stripe.paymentIntents.create({ amount: 2000, ...usd, payment_method: 'pm_card_visa', capture_method: 'manual' }));
      assertPaymentIntent(await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'requested_by_customer' }), {
        id: pi.id, status: 'canceled', cancellation_reason: 'requested_by_customer',
      });
      assertPaymentIntent(await stripe.paymentIntents.retrieve(pi.id), { status: 'canceled' });
    }],

    ['confirm of a confirmed PaymentIntent is refused', async () => {
      const pi = track(await stripe.paymentIntents.create({ amount: 900, ...usd, payment_method: 'pm_card_visa' }));
      await stripeError(stripe.paymentIntents.confirm(pi.id), 'StripeInvalidRequestError', {
        statusCode: 400, code: 'payment_intent_unexpected_state',
      });
    }],

    ['declines are card errors with the PaymentIntent inside', async () => {
      const cases = [
        ['pm_card_chargeDeclined', 'card_declined', 'generic_decline'],
        ['pm_card_chargeDeclinedInsufficientFunds', 'card_declined', 'insufficient_funds'],
        ['pm_card_chargeDeclinedExpiredCard', 'expired_card', 'expired_card'],
        ['pm_card_chargeDeclinedProcessingError', 'processing_error', 'processing_error'],
      ];
      for (const [pm, code, decline_code] of cases) {
        const err = await stripeError(stripe.paymentIntents.create({ amount: 1500, ...usd, payment_method: pm }),
          'StripeCardError', { statusCode: 402, code, decline_code });
        const declined = err.raw.payment_intent;
        assert.ok(declined, `${pm}: error.payment_intent`);
        assert.match(declined.id, /^pi_/);
        assert.equal(declined.status, 'requires_payment_method', pm);
        track(declined);
        assertPaymentIntent(await stripe.paymentIntents.retrieve(declined.id), { status: 'requires_payment_method', amount: 1500 });
      }
    }],

    ['raw test card numbers', async () => {
      const err = await stripeError(stripe.paymentIntents.create({ amount: 1100, ...usd, payment_method_data: card('4000000000000002') }),
        'StripeCardError', { statusCode: 402, code: 'card_declined', decline_code: 'generic_decline' });
      track(err.raw.payment_intent);
      track(assertPaymentIntent(await stripe.paymentIntents.create({ amount: 1100, ...usd, payment_method_data: card('4242424242424242') }),
        { status: 'succeeded', amount_received: 1100 }));
    }],

    ['invalid requests name the param', async () => {
      const base = { amount: 1000, currency: 'usd', payment_method: 'pm_card_visa' };
      await stripeError(stripe.paymentIntents.create(base), 'StripeInvalidRequestError', { statusCode: 400, param: 'confirm' });
      await stripeError(stripe.paymentIntents.create({ ...base, confirm: true, payment_method: 'pm_nope' }),
        'StripeInvalidRequestError', { statusCode: 400, param: 'payment_method' });
      await stripeError(stripe.paymentIntents.create({ currency: 'usd', payment_method: 'pm_card_visa', confirm: true }),
        'StripeInvalidRequestError', { statusCode: 400, param: 'amount' });
      await stripeError(stripe.paymentIntents.retrieve('pi_999999999999'), 'StripeInvalidRequestError', { statusCode: 404 });
    }],

    ['payouts out of the prefunded balance', async () => {
      const po = track(await stripe.payouts.create({ amount: 2500, currency: 'usd', method: 'instant', destination: 'pm_card_visa_debit' }));
      assertCommon(po, 'payout', 'po');
      assert.deepEqual([po.status, po.method, po.amount], ['paid', 'instant', 2500]);
      const again = await stripe.payouts.retrieve(po.id);
      assert.deepEqual([again.id, again.status, again.amount], [po.id, 'paid', 2500]);
      const list = await stripe.payouts.list();
      assert.equal(list.object, 'list');
      assert.ok(list.data.some((p) => p.id === po.id), 'payouts.list has the payout');
      await stripeError(stripe.payouts.create({ amount: 10_000_000, currency: 'usd', method: 'instant', destination: 'pm_card_visa_debit' }),
        'StripeInvalidRequestError', { statusCode: 400, code: 'balance_insufficient' });
    }],

    ['a velocity refusal is a card error naming the rule', async () => {
      const params = { amount: 60000, ...usd, payment_method: 'pm_card_mastercard', capture_method: 'manual' };
      track(assertPaymentIntent(await stripe.paymentIntents.create(params), { status: 'requires_capture' }));
      const err = await stripeError(stripe.paymentIntents.create(params), 'StripeCardError', {
        statusCode: 402, code: 'card_declined', decline_code: 'card_velocity_exceeded',
      });
      assert.equal(err.raw.rule, 'card_amount_daily');
      assert.equal(err.raw.payment_intent, undefined, 'refused before any payment was made');
    }],

    ['balance', async () => {
      const b = await stripe.balance.retrieve();
      assert.equal(b.object, 'balance');
      for (const side of ['available', 'pending']) {
        assert.ok(Array.isArray(b[side]) && b[side].length > 0, `balance.${side} is a non-empty array`);
        for (const m of b[side]) {
          assert.equal(m.currency, 'usd');
          assert.ok(Number.isInteger(m.amount), `balance.${side} amount ${m.amount} is an integer`);
        }
      }
    }],

    ['an idempotency key replays, and refuses other parameters', async () => {
      const params = { amount: 4200, ...usd, payment_method: 'pm_card_visa' };
      const first = track(await stripe.paymentIntents.create(params, { idempotencyKey: 'k-1' }));
      const second = await stripe.paymentIntents.create(params, { idempotencyKey: 'k-1' });
      assert.equal(second.id, first.id);
      assert.notEqual(first.lastResponse.headers['idempotent-replayed'], 'true', 'first answer is not a replay');
      assert.equal(second.lastResponse.headers['idempotent-replayed'], 'true');
      await stripeError(stripe.paymentIntents.create({ ...params, amount: 4300 }, { idempotencyKey: 'k-1' }),
        'StripeIdempotencyError', { statusCode: 400 });
    }],

    ['concurrent creates with one idempotency key make one PaymentIntent', async () => {
      // While the first is in flight the others may get 409, which the client retries (with backoff).
      const params = { amount: 3100, ...usd, payment_method: 'pm_card_visa', capture_method: 'manual' };
      const all = await Promise.all(Array.from({ length: 5 }, () =>
        stripe.paymentIntents.create(params, { idempotencyKey: 'k-par', maxNetworkRetries: 5 })));
      assert.equal(new Set(all.map((pi) => pi.id)).size, 1, `ids: ${all.map((pi) => pi.id)}`);
      track(assertPaymentIntent(all[0], { status: 'requires_capture', amount: 3100 }));
    }],

    ['creates without an explicit key get the client\'s own keys', async () => {
      const keys = [];
      const onRequest = (ev) => ev.method === 'POST' && keys.push(ev.idempotency_key);
      stripe.on('request', onRequest);
      try {
        const a = track(await stripe.paymentIntents.create({ amount: 500, ...usd, payment_method: 'pm_card_visa' }));
        const b = track(await stripe.paymentIntents.create({ amount: 500, ...usd, payment_method: 'pm_card_visa' }));
        assert.notEqual(a.id, b.id);
      } finally {
        stripe.off('request', onRequest);
      }
      for (const k of keys) assert.match(k ?? '', /^stripe-node-retry-/);
      assert.equal(new Set(keys).size, 2, 'one key per create (a retry reuses its key)');
    }],

    ['list and auto-pagination see every PaymentIntent once, oldest first', async () => {
      const mine = [...created].filter((id) => id.startsWith('pi_'));
      const page = await stripe.paymentIntents.list({ limit: 2 });
      assert.equal(page.object, 'list');
      assert.equal(page.url, '/v1/payment_intents');
      assert.equal(page.data.length, 2);
      assert.equal(page.has_more, true);

      const seen = [];
      await stripe.paymentIntents.list({ limit: 2 }).autoPagingEach((pi) => { seen.push(pi); });
      const ids = new Set(seen.map((pi) => pi.id));
      assert.equal(ids.size, seen.length, 'no PaymentIntent twice');
      assert.deepEqual([...ids].sort(), mine.sort(), 'exactly the PaymentIntents this test created');
      assert.deepEqual(seen.slice(0, 2).map((pi) => pi.id), page.data.map((pi) => pi.id), 'first page first');
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1].created <= seen[i].created, 'ascending creation order');
    }],
  ];
}

// ---- main ----------------------------------------------------------------------------------------

let server = null;
const watchdog = setTimeout(() => {
  console.log('not ok - the test did not finish within 180 s');
  server?.proc.kill('SIGKILL');
  process.exit(1);
}, 180_000);
watchdog.unref();

try {
  let key;
  await step('setup: init, merchant, API key, prefunding', () => {
    ctl('init');
    ctl('merchant', 'create', 'acme', '--currency', 'USD');
    key = ctl('--merchant', 'acme', 'apikey', 'create').split('\n')[0].trim();
    assert.match(key, /^sk_test_/);
    ctl('fund', 'acme', '--amount', '5000.00', '--currency', 'USD', '--key', 'topup-1');
  });
  if (key) await step('paymentd starts on a free port', async () => { server = await startServer(); });

  if (server) {
    try {
      const stripe = new Stripe(key, { host: '127.0.0.1', port: server.port, protocol: 'http', maxNetworkRetries: 2, telemetry: false });
      for (const [name, fn] of serverSteps(stripe)) await step(name, fn);
    } finally {
      await step('paymentd stops on SIGTERM', () => stopServer(server));
      await step('the books verify', () => ctl('ledger', 'verify'));
      await step('one payment in the books per PaymentIntent and payout', () => {
        const list = JSON.parse(ctl('--merchant', 'acme', 'payment', 'list', '--json', '--limit', '10000'));
        assert.equal(list.has_more, false);
        const payments = list.data.map((p) => p.payment_id).sort();
        const expected = [...created].map((id) => id.replace(/^(pi|po)_/, 'pay_')).sort();
        assert.equal(new Set(expected).size, created.size);
        assert.deepEqual(payments, expected);
      });
      if (failed && server.stderr()) console.log(`paymentd's stderr:\n${indent(server.stderr())}`);
    }
  }
} finally {
  if (process.env.STRIPE_TEST_KEEP) console.log(`kept ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
