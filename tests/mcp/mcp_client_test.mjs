// `paymentctl mcp` driven by the official MCP TypeScript SDK client (docs/mcp.md).
//
//   node tests/mcp/mcp_client_test.mjs /path/to/paymentctl
//
// A fresh database in a temp dir, a merchant with a prefunded disbursement balance, velocity caps
// for the agent's credential on the mcp channel, and `paymentctl mcp` spawned over stdio by the
// SDK's StdioClientTransport (the pinned @modelcontextprotocol/sdk; `npm ci` in tests/mcp). Then
// the raw protocol over a plain pipe (the stateless 2026-07-28 era, malformed lines), and the
// books checked with `paymentctl ledger verify`.
// Exit 0: all passed; 1: a failure; 77: skipped (the SDK is not installed, outside CI).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const here = import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname);
if (!fs.existsSync(path.join(here, 'node_modules', '@modelcontextprotocol', 'sdk', 'package.json'))) {
  if (process.env.CI) {
    console.error('error: tests/mcp/node_modules/@modelcontextprotocol/sdk is missing: run npm ci in tests/mcp');
    process.exit(1);
  }
  console.log('skipped: run npm ci in tests/mcp');
  process.exit(77);
}
const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = await import('@modelcontextprotocol/sdk/client/stdio.js');

if (!process.argv[2]) {
  console.error('usage: node tests/mcp/mcp_client_test.mjs /path/to/paymentctl');
  process.exit(2);
}
const bin = path.resolve(process.argv[2]);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pay-mcp-'));
const db = path.join(dir, 'pay.db');
// The agent's caps: at most 2 payouts and 30.00 USD of payouts per hour for its credential.
const caps = path.join(dir, 'caps.toml');
fs.writeFileSync(caps, `[[rule]]
name = "agent-payouts-per-hour"
operations = ["push"]
channels = ["mcp"]
key = ["credential"]
  [[rule.window]]
  algorithm = "sliding_log"
  window = "1h"
  limit = 2

[[rule]]
name = "agent-payout-amount-per-hour"
operations = ["push"]
channels = ["mcp"]
key = ["credential"]
measure = "amount"
currency = "USD"
  [[rule.window]]
  algorithm = "sliding_log"
  window = "1h"
  limit = "30.00"
`);

function ctl(...args) {
  const r = spawnSync(bin, ['--db', db, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`paymentctl ${args.join(' ')}: ${r.status}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}
ctl('init');
ctl('merchant', 'create', 'acme', '--currency', 'USD');
ctl('fund', 'acme', '--amount', '1000.00', '--currency', 'USD', '--key', 'topup-1');
const serverArgs = ['--db', db, '--config', caps, '--merchant', 'acme', 'mcp', '--credential', 'agent-1',
                    '--allow-tools', 'authorize,capture,payout'];

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
    console.log(String(err?.stack ?? err).split('\n').slice(0, 12).map((l) => '  ' + l).join('\n'));
  }
}

// ---- the SDK client over stdio ---------------------------------------------------------------

const transport = new StdioClientTransport({ command: bin, args: serverArgs, stderr: 'pipe' });
let log = '';
transport.stderr?.on('data', (d) => { log += d; });
const client = new Client({ name: 'pay-mcp-test', version: '1.0.0' });
await client.connect(transport);
const sc = (r) => r.structuredContent;

await step('initialize negotiates a protocol version and names the server', async () => {
  assert.equal(client.getServerVersion().name, 'paymentctl');
  assert.ok(client.getServerCapabilities().tools);
});

await step('tools/list shows the read tools and only the allowed write tools, annotated', async () => {
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  assert.deepEqual(names, ['get_payment', 'list_payments', 'get_balances', 'account_history',
                           'ledger_verify', 'velocity_status', 'authorize', 'capture', 'payout']);
  const payout = tools.find((t) => t.name === 'payout');
  assert.equal(payout.annotations.readOnlyHint, false);
  assert.equal(payout.annotations.destructiveHint, true);
  assert.ok(payout.inputSchema.required.includes('idempotency_key'));
  assert.equal(tools.find((t) => t.name === 'get_balances').annotations.readOnlyHint, true);
});

let paymentId;
const auth = { card_number: '4242424242424242', expiry: '12/30', amount: '25.00', currency: 'USD',
               idempotency_key: 'order-1' };
await step('authorize holds the amount; the answer has no full card number', async () => {
  const r = await client.callTool({ name: 'authorize', arguments: auth });
  assert.equal(r.isError, false);
  assert.equal(sc(r).payment.status, 'authorized');
  assert.equal(sc(r).payment.amount_minor, 2500);
  assert.equal(sc(r).replayed, false);
  assert.ok(!JSON.stringify(r).includes('4242424242424242'));
  assert.equal(JSON.parse(r.content[0].text).payment.payment_id, sc(r).payment.payment_id);
  paymentId = sc(r).payment.payment_id;
});

await step('the same key and arguments return the stored result', async () => {
  const r = await client.callTool({ name: 'authorize', arguments: auth });
  assert.equal(sc(r).replayed, true);
  assert.equal(sc(r).payment.payment_id, paymentId);
});

await step('the same key with other arguments is refused', async () => {
  const r = await client.callTool({ name: 'authorize', arguments: { ...auth, amount: '99.00' } });
  assert.equal(r.isError, true);
  assert.equal(sc(r).error.code, 'idempotency_key_reused');
});

await step('capture, then read the payment and the list back', async () => {
  const r = await client.callTool({ name: 'capture', arguments: { payment_id: paymentId, amount: '20.00',
                                                                  idempotency_key: 'cap-1' } });
  assert.equal(r.isError, false);
  assert.equal(sc(r).payment.captured_minor, 2000);
  const got = await client.callTool({ name: 'get_payment', arguments: { payment_id: paymentId } });
  assert.equal(sc(got).payment.status, 'partially_captured');
  const list = await client.callTool({ name: 'list_payments', arguments: { status: 'partially_captured' } });
  assert.deepEqual(sc(list).payments.map((p) => p.payment_id), [paymentId]);
});

await step('balances and history of the merchant accounts', async () => {
  const b = await client.callTool({ name: 'get_balances', arguments: {} });
  const disb = sc(b).accounts.find((a) => a.id === 'm/acme/disbursement');
  assert.equal(disb.balance_minor, 100000);
  const h = await client.callTool({ name: 'account_history', arguments: { account: 'disbursement' } });
  assert.ok(sc(h).lines.length >= 1);
});

await step('a real-looking card number is refused and not echoed', async () => {
  const r = await client.callTool({ name: 'authorize', arguments: { ...auth, card_number: '4111111111111111',
                                                                     idempotency_key: 'order-2' } });
  assert.equal(r.isError, true);
  assert.equal(sc(r).error.param, 'card_number');
  assert.ok(!JSON.stringify(r).includes('4111111111111111'));
});

await step('a write tool the server was not started with is refused', async () => {
  const r = await client.callTool({ name: 'refund', arguments: { payment_id: paymentId, idempotency_key: 'r-1' } });
  assert.equal(r.isError, true);
  assert.equal(sc(r).error.code, 'forbidden');
});

await step('the agent cap: the third payout within the hour is refused, naming rule, limit, retry', async () => {
  const payout = (key) => client.callTool({ name: 'payout', arguments: {
    recipient_card: '4242424242424242', amount: '10.00', currency: 'USD', recipient_name: 'Bo Smith',
    idempotency_key: key } });
  for (const key of ['payout-1', 'payout-2']) {
    const r = await payout(key);
    assert.equal(r.isError, false, JSON.stringify(sc(r)));
    assert.equal(sc(r).payment.status, 'completed');
  }
  const r = await payout('payout-3');
  assert.equal(r.isError, true);
  assert.equal(sc(r).error.code, 'velocity_limited');
  assert.equal(sc(r).error.rule, 'agent-payouts-per-hour');
  assert.equal(sc(r).error.limit, 2);
  assert.ok(sc(r).error.retry_after_s > 0);
  const again = await payout('payout-1');  // a replay consumes nothing and passes
  assert.equal(sc(again).replayed, true);
  const status = await client.callTool({ name: 'velocity_status', arguments: {} });
  const w = sc(status).windows.find((x) => x.rule === 'agent-payouts-per-hour');
  assert.equal(w.used, 2);
  assert.equal(w.remaining, 0);
});

await step('resources: the merchant accounts and a payment by its URI', async () => {
  const { resources } = await client.listResources();
  assert.deepEqual(resources.map((r) => r.uri), ['account://m/acme/pending', 'account://m/acme/available',
                                                 'account://m/acme/disbursement']);
  const { resourceTemplates } = await client.listResourceTemplates();
  assert.equal(resourceTemplates[0].uriTemplate, 'payment://{payment_id}');
  const r = await client.readResource({ uri: `payment://${paymentId}` });
  assert.equal(JSON.parse(r.contents[0].text).payment_id, paymentId);
  await assert.rejects(client.readResource({ uri: 'account://m/other/available' }), /Resource not found/);
});

await step('an unknown tool is a JSON-RPC error', async () => {
  await assert.rejects(client.callTool({ name: 'drop_tables', arguments: {} }), /Unknown tool/);
});

await step('ledger_verify through the agent', async () => {
  const r = await client.callTool({ name: 'ledger_verify', arguments: {} });
  assert.equal(sc(r).ok, true);
});

await client.close();

await step('one structured stderr line per call, no card number', async () => {
  const lines = log.trim().split('\n').map((l) => JSON.parse(l));
  const calls = lines.filter((l) => l.event === 'tool_call');
  assert.ok(calls.length >= 14, `${calls.length} tool_call lines`);
  assert.ok(calls.some((l) => l.tool === 'payout' && l.key === 'payout-3' && l.outcome === 'refused:velocity_limited'));
  assert.ok(!log.includes('4242424242424242') && !log.includes('4111111111111111'));
});

// ---- the raw protocol: the stateless era and malformed lines ---------------------------------

await step('2026-07-28: server/discover and _meta envelopes; bad lines get JSON-RPC errors', async () => {
  const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28',
                 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
                 'io.modelcontextprotocol/clientCapabilities': {} };
  const lines = [
    { jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: meta } },
    { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { _meta: meta, name: 'get_balances', arguments: {} } },
    { jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: { ...meta, 'io.modelcontextprotocol/protocolVersion': '1900-01-01' } } },
  ].map((m) => JSON.stringify(m));
  lines.push('{not json', '[]', '{"jsonrpc":"2.0","id":4,"id":5,"method":"ping"}',
             '{"jsonrpc":"2.0","id":6,"method":"no/such"}', '{"jsonrpc":"2.0","id":7,"method":"ping"}');
  const r = spawnSync(bin, serverArgs, { input: lines.join('\n') + '\n', encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.length, 8);
  assert.equal(out[0].result.resultType, 'complete');
  assert.ok(out[0].result.supportedVersions.includes('2026-07-28'));
  assert.equal(out[0].result._meta['io.modelcontextprotocol/serverInfo'].name, 'paymentctl');
  assert.equal(out[1].result.resultType, 'complete');
  assert.equal(out[1].result.structuredContent.merchant, 'acme');
  assert.equal(out[2].error.code, -32022);
  assert.deepEqual(out.slice(3, 7).map((m) => m.error.code), [-32700, -32600, -32700, -32601]);
  assert.deepEqual(out[7], { jsonrpc: '2.0', id: 7, result: {} });
});

await step('paymentctl ledger verify: the books balance after the agent', async () => {
  const out = ctl('ledger', 'verify', '--json');
  assert.equal(JSON.parse(out).ok, true, out);
});

fs.rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
