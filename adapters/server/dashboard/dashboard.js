// The operations dashboard of paymentd (docs/dashboard.md). Plain browser JavaScript, no build
// step, no library: every number comes from this server's API, read with the admin key the
// operator pastes (sessionStorage: it lives as long as the tab). Text from the API is only ever
// set as textContent, never parsed as HTML.
'use strict';

const KEY_ITEM = 'paymentd.dashboard.key';
const REFRESH_MS = 5000;
const PAYMENT_PAGES_MAX = 20;  // of 100: the live list reads at most 2,000 payments
const PAYMENT_ROWS = 100;      // the newest shown
const EVENTS_SHOWN = 50;
const EVENT_PAGES_MAX = 10;
const COLORS = ['#c0392b', '#d35400', '#8e44ad', '#16a085', '#7f8c8d', '#b7950b', '#2c3e50', '#e84393'];
const SVG = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);
let timer = null;
let selected = '';  // the payment whose timeline is open
let verified = false;  // the ledger is verified when the page opens and on request (it reads every entry)

// ---- the API ------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, { auth = true } = {}) {
  const headers = {};
  if (auth) headers.Authorization = 'Bearer ' + sessionStorage.getItem(KEY_ITEM);
  const res = await fetch(path, { headers, cache: 'no-store' });
  const type = res.headers.get('Content-Type') || '';
  const body = type.startsWith('application/json') ? await res.json() : await res.text();
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

// ---- small helpers --------------------------------------------------------------------------------

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function row(cells, classes = {}) {
  const tr = document.createElement('tr');
  cells.forEach((c, i) => {
    const td = c instanceof Node ? (() => { const t = el('td'); t.append(c); return t; })() : el('td', c);
    if (classes[i]) td.className = classes[i];
    tr.append(td);
  });
  return tr;
}

function fill(tableId, rows, empty) {
  const body = $(tableId).tBodies[0];
  const cols = $(tableId).tHead.rows[0].cells.length;
  body.replaceChildren(...rows);
  if (!rows.length) {
    const td = el('td', empty, 'empty');
    td.colSpan = cols;
    const tr = el('tr');
    tr.append(td);
    body.append(tr);
  }
}

const NUM = (n) => Object.fromEntries(n.map((i) => [i, 'num']));
const time = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '');
const percent = (num, den) => (den ? (100 * num / den).toFixed(1) + ' %' : '-');

// Minor units as a decimal with the currency's exponent, read off a decimal the API gave.
function money(minor, like) {
  const exp = like && like.includes('.') ? like.split('.')[1].length : 2;
  const neg = minor < 0;
  const s = String(Math.abs(minor)).padStart(exp + 1, '0');
  const text = exp ? s.slice(0, -exp) + '.' + s.slice(-exp) : s;
  return (neg ? '-' : '') + text;
}

function chip(text, color) {
  const c = el('span', null, 'chip');
  if (color) {
    const sw = el('span', null, 'swatch');
    sw.style.background = color;
    c.append(sw);
  }
  c.append(document.createTextNode(text));
  return c;
}

function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// ---- panels from the summary ----------------------------------------------------------------------

function renderOverview(s) {
  const a = s.approval;
  const rate = $('approval-rate');
  rate.textContent = percent(a.approved, a.authorizations);
  rate.className = 'big ' + (a.authorizations && a.approved / a.authorizations < 0.8 ? 'warn' : 'ok');
  $('approval-counts').textContent = `${a.approved} approved of ${a.authorizations} authorizations, ${a.declined} declined`;
  $('payments-total').textContent = s.scanned;
  $('scan-note').textContent = s.truncated ? `the first ${s.scan_max} by id (more exist)` : 'all payments';
  $('in-doubt-total').textContent = s.in_doubt.total;
  $('in-doubt-total').className = 'big ' + (s.in_doubt.total ? 'bad' : 'ok');
  $('expiring-total').textContent = s.expiring.total;
  $('expiring-total').className = 'big ' + (s.expiring.total ? 'warn' : 'ok');
  $('statuses').replaceChildren(...Object.entries(s.statuses).map(([k, n]) => chip(`${k} ${n}`)));
}

function codeColors(s) {
  const colors = {};
  s.declines.forEach((d, i) => { colors[d.response_code] = COLORS[i % COLORS.length]; });
  return colors;
}

// Stacked bars per time bucket (approved, then each decline code), and the approval rate line.
function renderApprovalChart(s) {
  const colors = codeColors(s);
  const W = 900, H = 220, L = 40, B = 30, T = 10;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'authorizations over time' });
  const series = s.series;
  const max = Math.max(1, ...series.map((b) => b.authorizations));
  const slot = (W - L - 10) / Math.max(series.length, 1);
  const y = (n) => H - B - (n / max) * (H - B - T);
  chart.append(svg('line', { x1: L, y1: H - B, x2: W - 10, y2: H - B, stroke: '#999' }));
  chart.append(svg('text', { x: 4, y: T + 8 }, String(max)), svg('text', { x: 4, y: H - B }, '0'));
  const rate = [];
  series.forEach((b, i) => {
    const w = Math.min(slot * 0.7, 48), x = L + i * slot + (slot - w) / 2;
    let base = 0;
    const stack = [['approved', b.approved, '#2e8b57'], ...Object.entries(b.declines).map(([c, n]) => [c, n, colors[c]])];
    for (const [name, n, color] of stack) {
      if (!n) continue;
      const r = svg('rect', { x, y: y(base + n), width: w, height: y(base) - y(base + n), fill: color });
      r.append(svg('title', {}, `${b.start}: ${name} ${n}`));
      chart.append(r);
      base += n;
    }
    rate.push(`${x + w / 2},${T + (1 - b.approved / Math.max(b.authorizations, 1)) * (H - B - T)}`);
    if (series.length <= 12 || i % Math.ceil(series.length / 12) === 0) {
      chart.append(svg('text', { x, y: H - 10 }, b.start.slice(5, 16).replace('T', ' ')));
    }
  });
  if (rate.length > 1) {
    chart.append(svg('polyline', { points: rate.join(' '), fill: 'none', stroke: '#2f5fb3', 'stroke-width': 2 }));
  }
  $('approval-chart').replaceChildren(chart);
  $('approval-legend').replaceChildren(chip('approved', '#2e8b57'),
    ...s.declines.map((d) => chip(`${d.response_code} ${d.decline_code}`, colors[d.response_code])),
    chip(`approval rate (line), buckets of ${s.bucket_s / 60} min`, '#2f5fb3'));
  fill('declines', s.declines.map((d) => row([d.response_code, d.decline_code, d.reason, d.count], NUM([3]))),
    'no declines');
}

function renderMerchants(s) {
  const W = 900, barH = 18, L = 140;
  const ms = s.merchants;
  const max = Math.max(1e-9, ...ms.map((m) => Number(m.captured)));
  const chart = svg('svg', { viewBox: `0 0 ${W} ${ms.length * (barH + 6) + 6}`, role: 'img', 'aria-label': 'captured volume per merchant' });
  ms.forEach((m, i) => {
    const yy = 6 + i * (barH + 6), w = (Number(m.captured) / max) * (W - L - 200);
    chart.append(svg('text', { x: 4, y: yy + 13 }, m.merchant));
    chart.append(svg('rect', { x: L, y: yy, width: Math.max(w, 1), height: barH, fill: '#2f5fb3' }));
    chart.append(svg('text', { x: L + w + 6, y: yy + 13 }, `${m.captured} ${m.currency} captured, fees ${m.fees}`));
  });
  $('volume-chart').replaceChildren(chart);
  const bal = (b) => (b ? b.balance : '-');
  fill('merchant-table', ms.map((m) => row([
    m.merchant, `${m.approved} / ${m.authorizations}`, `${m.captured} ${m.currency}`, m.refunded, m.settled, m.fees,
    m.paid_out, bal(m.balances.pending), bal(m.balances.available), bal(m.balances.prefunded),
  ], NUM([1, 2, 3, 4, 5, 6, 7, 8, 9]))), 'no merchants');
  const pick = $('filter-merchant');
  const want = ['', ...ms.map((m) => m.merchant)];
  if ([...pick.options].map((o) => o.value).join() !== want.join()) {
    const current = pick.value;
    pick.replaceChildren(...want.map((v) => { const o = el('option', v || 'any'); o.value = v; return o; }));
    pick.value = want.includes(current) ? current : '';
  }
}

function renderLists(s) {
  $('payout-statuses').replaceChildren(...Object.entries(s.payouts.statuses).map(([k, n]) => chip(`${k} ${n}`)));
  fill('payout-table', s.payouts.recent.map((p) => row([
    p.payment_id, p.merchant, p.status, `${p.amount} ${p.currency}`, p.recipient_name || '',
  ], NUM([3]))), 'no payouts');
  const doubt = s.in_doubt.payments.map((p) => row([p.payment_id, p.merchant, p.status,
    p.in_doubt_stan ? `no answer to STAN ${p.in_doubt_stan}` : 'awaiting the network']));
  const expiring = s.expiring.payments.map((p) => row([p.payment_id, p.merchant, p.status,
    `${p.capturable} ${p.currency} expires ${time(p.authorization_expires_at)}`]));
  fill('doubt-table', [...doubt, ...expiring], 'nothing in doubt, nothing expiring');
  fill('settlement-table', s.settlements.map((r) => row([time(r.at), r.payments, `${r.net} ${r.currency}`,
    `${r.fees} ${r.currency}`], NUM([1, 2, 3]))), 'no settlement yet');
}

// ---- the other reads ----------------------------------------------------------------------------------

async function loadVerify() {
  const v = await api('/v1/ledger/verify');
  const r = $('verify-result');
  r.textContent = v.ok ? 'OK' : `${v.problems_total} problems`;
  r.className = 'big ' + (v.ok ? 'ok' : 'bad');
  $('verify-detail').textContent = `${v.entries_checked} entries, ${v.accounts_checked} accounts, head ${v.head_hash.slice(0, 12)}, ` +
    `checked ${new Date().toISOString().slice(11, 19)} UTC` + (v.ok ? '' : `: ${v.problems[0]}`);
  verified = true;
}

async function loadVelocity() {
  const text = await api('/metrics', { auth: false });
  const hits = [];
  for (const line of text.split('\n')) {
    const m = /^paymentd_velocity_hits_total(?:\{(.*)\})?\s+(\d+)/.exec(line);
    if (!m) continue;
    const rule = m[1] && /rule="([^"]*)"/.exec(m[1]);
    hits.push([rule ? rule[1] : 'all rules', Number(m[2])]);
  }
  fill('velocity-table', hits.map(([r, n]) => row([r, n], NUM([1]))), 'no velocity counter on /metrics');
}

async function loadPayments() {
  const q = new URLSearchParams({ limit: '100' });
  if ($('filter-status').value) q.set('status', $('filter-status').value);
  if ($('filter-merchant').value) q.set('merchant', $('filter-merchant').value);
  let rows = [], pages = 0, more = true;
  while (more && pages < PAYMENT_PAGES_MAX) {
    const page = await api('/v1/payments?' + q);
    rows = rows.concat(page.data).slice(-PAYMENT_ROWS);
    more = page.has_more;
    pages++;
    if (more) q.set('after', page.next_cursor);
  }
  $('payments-note').textContent = `${rows.length} shown, newest first` + (more ? ' (more than the page reads)' : '');
  fill('payment-table', rows.reverse().map((p) => {
    const tr = row([p.payment_id, time(p.created_at), p.merchant, p.type || 'card', p.status, p.response_code,
      `${p.amount} ${p.currency}`, money(p.captured_minor, p.amount), money(p.refunded_minor, p.amount),
      p.card && p.card.last4 ? `${p.card.bin}…${p.card.last4}` : ''], NUM([6, 7, 8]));
    tr.dataset.payment = p.payment_id;
    if (p.payment_id === selected) tr.classList.add('selected');
    tr.addEventListener('click', () => showTimeline(p.payment_id));
    return tr;
  }), 'no payments match');
}

async function showTimeline(id) {
  selected = id;
  for (const tr of $('payment-table').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.payment === id);
  const p = await api('/v1/payments/' + encodeURIComponent(id));
  $('timeline').hidden = false;
  $('entry').hidden = true;
  $('timeline-id').textContent = p.payment_id;
  $('timeline-summary').textContent = `${p.merchant}, ${p.type || 'card'}, ${p.status}, ${p.amount} ${p.currency}; ` +
    `RRN ${p.network.rrn || '-'}, STAN ${p.network.stan || '-'}, auth code ${p.network.auth_code || '-'}`;
  $('timeline-steps').replaceChildren(...p.history.map((h) => {
    const li = el('li');
    li.append(el('span', h.op, 'op'), ` ${money(h.amount_minor, p.amount)} ${p.currency}`);
    if (h.at) li.append(` at ${time(h.at)}`);
    if (h.response_code) li.append(`, response ${h.response_code}`);
    if (h.stan) li.append(`, STAN ${h.stan}`);
    if (h.entry_id) {
      const b = el('button', `ledger entry ${h.entry_id}`);
      b.type = 'button';
      b.dataset.entry = h.entry_id;
      b.addEventListener('click', () => showEntry(h.entry_id, p.amount).catch(report));
      li.append(', ', b);
    }
    return li;
  }));
}

// `like`: a decimal of the entry's currency (the payment's amount), for the exponent.
async function showEntry(id, like) {
  const e = await api('/v1/ledger/entries/' + id);
  $('entry').hidden = false;
  $('entry-id').textContent = `${e.id} (${e.kind}${e.state ? ', ' + e.state : ''})`;
  $('entry-description').textContent = `${e.description}, ${time(e.created_at)}, hash ${e.hash.slice(0, 16)}…`;
  fill('entry-postings', e.postings.map((l) => row([l.account, `${l.side} ${l.phase}`, `${money(l.amount_minor, like)} ${l.currency}`],
    NUM([2]))), 'no postings');
}

// The feed reads in commit order from the oldest: page on (at most EVENT_PAGES_MAX pages) and keep
// the newest. `after` remembers where the last read stopped, so a refresh reads only what is new.
let eventsAfter = '';
let eventsKept = [];
async function readEvents() {
  let more = true;
  for (let pages = 0; more && pages < EVENT_PAGES_MAX; pages++) {
    const q = new URLSearchParams({ limit: String(EVENTS_SHOWN) });
    if (eventsAfter) q.set('after', eventsAfter);
    const page = await api('/v1/events?' + q);
    eventsKept = eventsKept.concat(page.data || []).slice(-EVENTS_SHOWN);
    more = page.has_more;
    if (page.next_cursor) eventsAfter = page.next_cursor;
    else if (page.data && page.data.length) eventsAfter = page.data[page.data.length - 1].id;
  }
  return { data: eventsKept, has_more: more };
}

async function loadEvents() {
  let list;
  try {
    list = await readEvents();
  } catch (e) {
    if (e.status === 404 || e.status === 405) {
      $('events-note').textContent = 'no events: this server has no event feed';
      fill('event-table', [], 'no events');
      return;
    }
    $('events-note').textContent = `no events: ${e.message}`;
    fill('event-table', [], 'no events');
    throw e;
  }
  const data = list.data.slice().reverse();  // the feed is in commit order
  $('events-note').textContent = `the newest ${data.length} events, newest first` + (list.has_more ? ' (more are still to read)' : '');
  fill('event-table', data.map((e) => {
    const o = (e.data && e.data.object) || {};
    return row([e.id, e.number ?? e.seq ?? '', time(e.created), e.type, e.merchant, o.payment_id || o.id || '', o.status || '']);
  }), 'no events');
}

// ---- the loop -----------------------------------------------------------------------------------------

function report(err) {
  $('status').textContent = err.status === 401 || err.status === 403
    ? `The key was refused (${err.status}): ${err.message}. An admin key is needed.`
    : `Error: ${err.message}`;
  $('status').className = 'error';
}

async function refresh() {
  try {
    const s = await api('/v1/admin/dashboard');
    $('panels').hidden = false;
    renderOverview(s);
    renderApprovalChart(s);
    renderMerchants(s);
    renderLists(s);
    // One panel's failure leaves the others drawn; the status line names what failed.
    const loads = { payments: loadPayments, velocity: loadVelocity, events: loadEvents };
    if (!verified) loads['ledger verify'] = loadVerify;
    if (selected) loads.timeline = () => showTimeline(selected);
    const names = Object.keys(loads);
    const results = await Promise.allSettled(names.map((n) => loads[n]()));
    const failed = results.map((r, i) => (r.status === 'rejected' ? `${names[i]}: ${r.reason.message}` : '')).filter(Boolean);
    $('status').textContent = `Updated ${time(s.generated_at)}.` + (failed.length ? ` Not updated: ${failed.join('; ')}.` : '');
    $('status').className = failed.length ? 'error' : '';
    document.body.dataset.state = failed.length ? 'partial' : 'ready';
  } catch (err) {
    report(err);
    document.body.dataset.state = 'error';
  }
  schedule();
}

function schedule() {
  clearTimeout(timer);
  if ($('live').checked && sessionStorage.getItem(KEY_ITEM)) timer = setTimeout(refresh, REFRESH_MS);
}

function start() {
  $('key-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = $('key').value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_ITEM, key);
    $('key').value = '';
    verified = false;
    eventsAfter = '';
    eventsKept = [];
    document.body.dataset.state = 'loading';
    refresh();
  });
  $('key-forget').addEventListener('click', () => {
    sessionStorage.removeItem(KEY_ITEM);
    clearTimeout(timer);
    $('panels').hidden = true;
    document.body.dataset.state = 'locked';
    $('status').textContent = 'Key forgotten. Paste an admin key to open the dashboard.';
    $('status').className = '';
  });
  $('live').addEventListener('change', schedule);
  $('verify-run').addEventListener('click', () => {
    $('verify-result').textContent = '…';
    loadVerify().catch(report);
  });
  for (const f of ['filter-status', 'filter-merchant']) {
    $(f).addEventListener('change', () => loadPayments().catch(report));
  }
  if (sessionStorage.getItem(KEY_ITEM)) refresh();
}

document.addEventListener('DOMContentLoaded', start);
