// lcte dashboard: one page, hash routes (#/runs, #/run/ID, #/live, #/try,
// #/compare?ids=..., #/routing, #/about). Data comes from /api (JSON) and the
// live event stream /api/events (Server-Sent Events). Untrusted text (model
// output, task text) only ever reaches the page as text nodes.

// ---------- session and API ----------
// The session lives in an HttpOnly, SameSite=Strict cookie the server sets
// (on loading the page, or on logging in with the token): this script never
// holds a secret and never puts one in a URL.
const session = { loginRequired: false };

async function api(path, opts = {}) {
  const init = { method: opts.method || 'GET', headers: {}, credentials: 'same-origin' };
  if (opts.body !== undefined) { init.headers['Content-Type'] = 'application/json'; init.body = JSON.stringify(opts.body); }
  const res = await fetch(path, init);
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: text }; }
  // The session ended (idle or too old): back to the login, which reloading shows.
  if (res.status === 401 && session.loginRequired && path !== '/api/login') { location.reload(); }
  if (!res.ok) {
    const e = data && data.error;  // the dashboard's {error: text} or the API's {error: {message}}
    const err = new Error((typeof e === 'string' ? e : e && e.message) || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

// True when the page may go on; false when it must ask for the token first.
async function initSession() {
  if (new URLSearchParams(location.search).has('token')) history.replaceState(null, '', location.pathname + location.hash);
  const s = await api('/api/session');
  session.loginRequired = s.login_required;
  return s.authenticated;
}

function loginView(onIn) {
  const input = h('input', { type: 'password', id: 'login-token', name: 'token', autocomplete: 'current-password', required: true });
  const msg = h('div', { id: 'login-msg', role: 'alert' });
  const form = h('form', { class: 'card login', id: 'login-form' },
    h('h1', {}, 'Log in'),
    h('p', {}, 'This dashboard is protected by a token: the one given to lcte dashboard (--token-env or --token-file), or lcte serve\'s API key.'),
    h('label', { for: 'login-token' }, 'Token', input),
    h('div', { class: 'toolbar' }, h('button', { type: 'submit', id: 'login-submit' }, 'Log in')), msg);
  form.onsubmit = async (e) => {
    e.preventDefault(); msg.replaceChildren();
    try { await api('/api/login', { method: 'POST', body: { token: input.value } }); input.value = ''; onIn(); }
    catch (err) { msg.append(errorBox(err)); input.select(); }
  };
  $('#view').replaceChildren(form);
  input.focus();
}

async function logout() {
  try { await api('/api/logout', { method: 'POST', body: {} }); } finally { location.reload(); }
}

// ---------- DOM helpers ----------
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const $ = (sel, root = document) => root.querySelector(sel);
function fmt(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (typeof v !== 'number') return String(v);
  if (Number.isInteger(v)) return v.toLocaleString('en');
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 1 ? v.toFixed(2) : v.toPrecision(digits);
}
const pct = v => (v === null || v === undefined) ? '–' : (100 * v).toFixed(1) + '%';
function stat(label, value, id) { return h('div', { class: 'stat' }, h('b', { id }, value), h('span', {}, label)); }
function toast(msg) { const t = $('#toast'); t.textContent = msg; t.classList.remove('hidden'); clearTimeout(toast.timer); toast.timer = setTimeout(() => t.classList.add('hidden'), 4000); }
function errorBox(e) { return h('div', { class: 'error', role: 'alert' }, String(e.message || e)); }
function empty(text) { return h('div', { class: 'empty' }, text); }
// A region that may scroll: focusable, so the keyboard can scroll it, and named.
function scrollBox(label, ...children) { return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': label }, ...children); }
function badge(status) { return h('span', { class: `badge ${status}` }, status); }

// ---------- charts ----------
// Okabe-Ito, as the HTML reports use: told apart with any colour vision.
const palette = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#F0E442', '#000000'];
const charts = new Set();

// Every chart has its numbers as text too: a table under a disclosure, which
// screen readers and keyboard users reach like any other content.
function dataTable(caption, head, rows) {
  return h('details', { class: 'chart-data' }, h('summary', {}, `${caption}: data as a table`),
    h('table', {}, h('caption', { class: 'sr-only' }, caption), h('thead', {}, h('tr', {}, head.map(x => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows.map(r => h('tr', {}, r.map(v => h('td', { class: typeof v === 'number' ? 'num' : '' }, typeof v === 'number' ? fmt(v) : v)))))));
}
// A long series is summarised (points, range, last value) rather than listed.
function seriesRows(names, data) {
  const xs = data[0] || [];
  return names.map((n, i) => {
    const ys = (data[i + 1] || []).filter(v => v !== null && Number.isFinite(v));
    return [n, ys.length, xs.length ? xs[0] : '–', xs.length ? xs[xs.length - 1] : '–', ys.length ? Math.min(...ys) : '–', ys.length ? Math.max(...ys) : '–', ys.length ? ys[ys.length - 1] : '–'];
  });
}

// A time-series chart (uPlot): x in seconds, one or more y series sharing a
// unit. box.update(data) redraws it and its text alternative.
function lineChart(title, yLabel, names, data, { xLabel = 'time (s)', points = false, yRange = null } = {}) {
  const box = h('figure', { class: 'card chart', 'aria-label': title });
  const width = () => Math.max(300, (box.clientWidth || 480) - 30);
  const opts = {
    title, width: 480, height: 220,
    scales: { x: { time: false }, ...(yRange ? { y: { range: yRange } } : {}) },
    axes: [{ label: xLabel }, { label: yLabel, size: 60 }],
    series: [{ label: xLabel }, ...names.map((n, i) => ({ label: n, stroke: palette[i % palette.length], width: 2, points: { show: points } }))],
    legend: { show: true },
  };
  const plot = new uPlot(opts, data, box);
  // The canvas says nothing to assistive technology; the table below does.
  plot.root.setAttribute('aria-hidden', 'true');
  requestAnimationFrame(() => plot.setSize({ width: width(), height: 220 }));
  const entry = { plot, box, width };
  charts.add(entry);
  box.plot = plot;
  const head = ['series', 'points', `first ${xLabel}`, `last ${xLabel}`, `min (${yLabel})`, `max (${yLabel})`, 'last value'];
  let table = dataTable(title, head, seriesRows(names, data));
  box.append(table);
  box.update = (d) => {
    plot.setData(d);
    const next = dataTable(title, head, seriesRows(names, d));
    next.open = table.open;
    table.replaceWith(next);
    table = next;
  };
  return box;
}
window.addEventListener('resize', () => { for (const c of charts) if (c.box.isConnected) c.plot.setSize({ width: c.width(), height: 220 }); else charts.delete(c); });

// The resource charts of one run from its metric series ({name: [[t, value], ...]},
// the recorder's names: docs/formats.md). The run page draws them from the
// store and the live monitor from the readings the server pushes (the same
// points under the same names), so both show the same series.
const runTime = 'time since run start (s)';
function resourceSpecs(metrics) {
  const specs = [];
  const one = (key, title, yLabel, label, name, scale = 1) => {
    const m = metrics[name];
    if (m?.length) specs.push({ key, title, yLabel, names: [label], data: [m.map(p => p[0]), m.map(p => p[1] * scale)] });
  };
  // One line per GPU (gpu<i>_<field>), on the union of their reading times.
  const perGpu = (key, title, yLabel, field, scale) => {
    const re = new RegExp(`^gpu(\\d+)_${field}$`);
    const keys = Object.keys(metrics).filter(k => re.test(k) && metrics[k].length)
      .sort((a, b) => +a.match(re)[1] - +b.match(re)[1]);
    if (!keys.length) return;
    const ts = [...new Set(keys.flatMap(k => metrics[k].map(p => p[0])))].sort((a, b) => a - b);
    specs.push({ key, title, yLabel, names: keys.map(k => `GPU ${k.match(re)[1]}`),
      data: [ts, ...keys.map(k => { const m = new Map(metrics[k]); return ts.map(t => (m.has(t) ? m.get(t) * scale : null)); })] });
  };
  one('cpu', 'CPU over time', 'CPU cores busy', 'lcte + sandbox', 'process_cpu_cores');
  one('memory', 'Memory over time', 'RSS (MiB)', 'resident set', 'rss_bytes', 1 / 2 ** 20);
  // Measured CPU energy where the machine gives it, else the estimate.
  if (metrics.cpu_energy_j?.length) one('energy', 'Energy over time', 'energy (J, cumulative)', 'CPU energy', 'cpu_energy_j');
  else one('energy', 'Energy over time (estimate from CPU time)', 'energy (J, cumulative)', 'CPU energy (estimate)', 'cpu_energy_estimate_j');
  perGpu('gpu-utilisation', 'GPU utilisation', 'utilisation (%)', 'utilisation', 100);
  perGpu('gpu-power', 'GPU power', 'power (W)', 'power_w', 1);
  return specs;
}
function resourceChart(spec) {
  const box = lineChart(spec.title, spec.yLabel, spec.names, spec.data, { xLabel: runTime });
  box.dataset.chart = spec.key;
  return box;
}

// Small SVG charts with axes, units and a legend (bars, scatter with a Pareto front).
const SVGNS = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}, text) { const el = document.createElementNS(SVGNS, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); if (text !== undefined) el.textContent = text; return el; }
function ticks(lo, hi, n = 5) {
  if (!(hi > lo)) { hi = lo + 1; }
  const step0 = (hi - lo) / n, mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map(m => m * mag).find(st => st >= step0);
  const out = []; for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(+v.toPrecision(12));
  return out;
}
function frame(title, xLabel, yLabel, xr, yr, W = 520, H = 320) {
  const m = { l: 60, r: 20, t: 28, b: 66 };  // the legend sits under the x axis label
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'aria-label': title });
  const X = v => m.l + (v - xr[0]) / (xr[1] - xr[0] || 1) * (W - m.l - m.r);
  const Y = v => H - m.b - (v - yr[0]) / (yr[1] - yr[0] || 1) * (H - m.t - m.b);
  svg.append(s('text', { x: W / 2, y: 16, 'text-anchor': 'middle', 'font-weight': 600 }, title));
  for (const t of ticks(yr[0], yr[1])) { svg.append(s('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t) })); svg.append(s('text', { x: m.l - 6, y: Y(t) + 4, 'text-anchor': 'end' }, fmt(t))); }
  svg.append(s('line', { class: 'axis', x1: m.l, x2: m.l, y1: m.t, y2: H - m.b }));
  svg.append(s('line', { class: 'axis', x1: m.l, x2: W - m.r, y1: H - m.b, y2: H - m.b }));
  svg.append(s('text', { x: (W + m.l) / 2, y: H - m.b + 32, 'text-anchor': 'middle' }, xLabel));
  svg.append(s('text', { x: 14, y: (H - m.b + m.t) / 2, transform: `rotate(-90 14 ${(H - m.b + m.t) / 2})`, 'text-anchor': 'middle' }, yLabel));
  return { svg, X, Y, m, W, H };
}
function barChart(title, categories, series, yLabel, yMax) {
  const max = yMax ?? Math.max(1e-9, ...series.flatMap(x => x.values.filter(Number.isFinite)));
  const f = frame(title, '', yLabel, [0, categories.length], [0, max]);
  const gw = (f.X(1) - f.X(0)) * 0.8, bw = gw / series.length;
  categories.forEach((c, i) => {
    f.svg.append(s('text', { x: f.X(i + 0.5), y: f.H - f.m.b + 14, 'text-anchor': 'middle' }, c));
    series.forEach((se, j) => { const v = se.values[i]; if (!Number.isFinite(v)) return;
      const x = f.X(i) + (f.X(1) - f.X(0)) * 0.1 + j * bw;
      f.svg.append(s('rect', { x, y: f.Y(v), width: bw - 2, height: f.Y(0) - f.Y(v), fill: palette[j % palette.length] }, undefined));
      f.svg.append(s('text', { x: x + bw / 2, y: f.Y(v) - 3, 'text-anchor': 'middle' }, fmt(v))); });
  });
  legend(f, series.map(x => x.name));
  return h('figure', { class: 'card' }, f.svg,
    dataTable(title, ['', ...series.map(x => x.name)], categories.map((c, i) => [c, ...series.map(x => Number.isFinite(x.values[i]) ? x.values[i] : '–')])));
}
function legend(f, names) {
  names.forEach((n, i) => { const x = f.m.l + i * 130, y = f.H - 16;
    f.svg.append(s('rect', { x, y, width: 10, height: 10, fill: palette[i % palette.length] }));
    f.svg.append(s('text', { x: x + 14, y: y + 9 }, n.length > 18 ? n.slice(0, 17) + '…' : n)); });
}
// points: [{x, y, label, group}], front: list of points joined as the Pareto front.
function scatterChart(title, points, front, xLabel, yLabel, lines = []) {
  const xs = points.map(p => p.x).concat(lines.flatMap(l => l.points.map(p => p.x)));
  const ys = points.map(p => p.y).concat(lines.flatMap(l => l.points.map(p => p.y)));
  const xr = [0, Math.max(1e-9, ...xs) * 1.1], yr = [0, Math.max(1, ...ys)];
  const f = frame(title, xLabel, yLabel, xr, yr);
  const groups = [...new Set(points.map(p => p.group))];
  const names = [...lines.map(l => l.name), ...groups];
  lines.forEach((l, i) => f.svg.append(s('polyline', { points: l.points.map(p => `${f.X(p.x)},${f.Y(p.y)}`).join(' '), fill: 'none', stroke: palette[i % palette.length], 'stroke-width': 1.5 })));
  if (front.length > 1) { f.svg.append(s('polyline', { points: front.map(p => `${f.X(p.x)},${f.Y(p.y)}`).join(' '), fill: 'none', stroke: '#111827', 'stroke-dasharray': '4 3' })); names.push('Pareto front'); }
  points.forEach(p => { const c = palette[(lines.length + groups.indexOf(p.group)) % palette.length];
    f.svg.append(s('circle', { cx: f.X(p.x), cy: f.Y(p.y), r: 5, fill: c }));
    const right = f.X(p.x) > f.W * 0.7;  // labels near the right edge go to the left of their point
    f.svg.append(s('text', { x: f.X(p.x) + (right ? -8 : 8), y: f.Y(p.y) - 7, 'text-anchor': right ? 'end' : 'start' }, p.label)); });
  names.forEach((n, i) => { const x = f.m.l + (i % 3) * 150, y = f.H - 28 + Math.floor(i / 3) * 14;
    const c = n === 'Pareto front' ? '#111827' : palette[i % palette.length];
    f.svg.append(s('rect', { x, y, width: 10, height: 10, fill: c })); f.svg.append(s('text', { x: x + 14, y: y + 9 }, n)); });
  const rows = [...points.map(p => [p.label, p.group, p.x, p.y, front.some(q => q.x === p.x && q.y === p.y) ? 'yes' : '']),
    ...lines.flatMap(l => l.points.map(p => [`${l.name} point`, l.name, p.x, p.y, front.some(q => q.x === p.x && q.y === p.y) ? 'yes' : '']))];
  return h('figure', { class: 'card' }, f.svg, dataTable(title, ['point', 'group', xLabel, yLabel, 'on the Pareto front'], rows));
}

// ---------- live events ----------
const listeners = new Set();
let source = null;
let lastEventId = 0;  // the newest event this page has handled (ids grow in publication order)
function connectEvents() {
  source = new EventSource('/api/events');
  const conn = $('#conn');
  source.onopen = () => { conn.textContent = 'live'; conn.classList.add('on'); };
  source.onerror = () => { conn.textContent = 'reconnecting'; conn.classList.remove('on'); };
  for (const type of ['progress', 'sample', 'resources', 'job', 'run', 'decision', 'rules', 'store', 'try', 'try_token'])
    source.addEventListener(type, ev => { const data = JSON.parse(ev.data); lastEventId = Math.max(lastEventId, Number(ev.lastEventId) || 0);
      live.ingest(type, data); for (const l of listeners) l(type, data); });
}
// Resolves once the page has handled event `id`: a result returned over HTTP
// is then drawn after the pieces the server pushed before it, whichever
// connection was faster. Gives up at once when the stream is closed, and
// after `ms` while it is reconnecting.
function eventsThrough(id, ms = 3000) {
  if (!id || lastEventId >= id) return Promise.resolve(true);
  if (!source || source.readyState === EventSource.CLOSED) return Promise.resolve(false);
  return new Promise(ok => {
    const done = v => { clearTimeout(timer); listeners.delete(check); ok(v); };
    const check = () => { if (lastEventId >= id) done(true); };
    const timer = setTimeout(() => done(false), ms);
    listeners.add(check);
  });
}
function randomId() { return Array.from(crypto.getRandomValues(new Uint32Array(2)), x => x.toString(36)).join(''); }
// Keeps the current job's series whichever tab is open, so the monitor shows
// everything since the page was loaded.
const live = {
  // metrics: per run, the pushed readings as /api/runs/ID/metrics gives them
  // ({name: [[t, value], ...]}); resRun: the run last measured.
  job: null, runs: {}, store: {}, progress: [[], [], []], latency: [[], []], metrics: {}, resRun: null, events: [], samples: 0,
  t0: null,
  reset() { this.progress = [[], [], []]; this.latency = [[], []]; this.metrics = {}; this.resRun = null; this.samples = 0; this.t0 = null; this.runs = {}; },
  now() { const t = performance.now() / 1000; if (this.t0 === null) this.t0 = t; return t - this.t0; },
  ingest(type, d) {
    if (type === 'job') { if (!this.job || this.job.id !== d.id) this.reset(); this.job = d; }
    if (type === 'run') this.runs[d.run_id] = d;
    if (type === 'store') { if (d.status === 'ended') delete this.store[d.run_id]; else this.store[d.run_id] = d; }
    if (type === 'sample') { const t = this.now(); this.samples++;
      this.progress[0].push(t); this.progress[1].push(this.samples); this.progress[2].push(d.pass_rate);
      this.latency[0].push(this.samples); this.latency[1].push(d.latency_s > 0 ? d.latency_s : (d.exec_s ?? null)); }
    if (type === 'resources') { const m = this.metrics[d.run_id] ??= {}; this.resRun = d.run_id;
      for (const [name, v] of Object.entries(d.metrics || {})) (m[name] ??= []).push([d.t, v]); }
    if (type !== 'resources' && type !== 'try_token') { this.events.unshift({ type, d, at: new Date().toLocaleTimeString() }); this.events.length = Math.min(this.events.length, 200); }
  },
};

// One line per event for the monitor's log.
function describeEvent(type, d) {
  switch (type) {
    case 'sample': return `${d.model} ${d.task_id} #${d.sample_index}: ${d.status}`;
    case 'progress': return `${d.model}: ${d.done}/${d.total} samples, ${d.passed} passed, ${fmt(d.elapsed_s)} s`;
    case 'job': return `${d.id} ${d.status}${d.error ? ': ' + d.error : ''}`;
    case 'run': return `${d.run_id} (${d.model}) ${d.status}`;
    case 'store': return `store: ${d.run_id} (${d.kind}, ${d.model || 'no model'}) ${d.status}, ${d.samples} samples`;
    case 'decision': return `routed ${d.n_tokens} tokens → ${d.tier} (${d.reason})`;
    case 'rules': return `routing rules version ${d.version} applied`;
    case 'try': return `interactive ${d.task_id} on ${d.model} #${d.sample_index}: ${d.status}`;
    default: return JSON.stringify(d).slice(0, 160);
  }
}

// ---------- views ----------
const views = {};
let info = null;

views.runs = async (root) => {
  root.append(h('h1', {}, 'Experiments'));
  const bar = h('div', { class: 'toolbar' });
  const q = h('input', { type: 'text', placeholder: 'search id, model, name', id: 'runs-search' });
  const kind = h('select', { id: 'runs-kind' }, h('option', { value: '' }, 'any kind'), ...['eval', 'quantize', 'distill', 'bench', 'study'].map(k => h('option', { value: k }, k)));
  const status = h('select', { id: 'runs-status' }, h('option', { value: '' }, 'any status'), ...['running', 'finished', 'failed', 'killed'].map(k => h('option', { value: k }, k)));
  const compareBtn = h('button', { id: 'compare-selected', disabled: true }, 'Compare selected');
  const csvLink = h('a', { class: 'button', id: 'summary-csv', href: '#' }, 'Summary CSV of selected');
  bar.append(h('label', {}, 'Search', q), h('label', {}, 'Kind', kind), h('label', {}, 'Status', status), compareBtn, csvLink);
  root.append(bar);
  const holder = h('div'); root.append(holder);
  let runs = [];
  try { runs = await api('/api/runs'); } catch (e) { holder.append(errorBox(e)); return; }
  const selected = new Set();
  let sortKey = 'started_at', sortDir = -1;
  const p1 = r => r.summary?.pass_at_k?.['pass@1'] ?? null;
  const cols = [
    ['', null], ['id', r => r.id], ['model', r => r.model], ['kind', r => r.kind], ['suite', r => r.config?.suite ?? ''], ['status', r => r.status],
    ['started_at', r => r.started_at], ['pass@1', p1], ['samples', r => r.summary?.samples ?? r.summary?.counts?.samples ?? null], ['energy (J)', r => r.summary?.energy?.total_joules ?? null]];
  const update = () => {
    compareBtn.disabled = selected.size < 1;
    const ids = [...selected].join(',');
    csvLink.href = selected.size ? `/api/summary.csv?ids=${encodeURIComponent(ids)}` : '#';
  };
  compareBtn.onclick = () => { location.hash = `#/compare?ids=${encodeURIComponent([...selected].join(','))}`; };
  const render = () => {
    holder.replaceChildren();
    const text = q.value.toLowerCase();
    let rows = runs.filter(r => (!kind.value || r.kind === kind.value) && (!status.value || r.status === status.value) &&
      (!text || `${r.id} ${r.model} ${r.name}`.toLowerCase().includes(text)));
    const key = cols.find(c => c[0] === sortKey)[1];
    rows.sort((a, b) => { const x = key(a), y = key(b); return (x === y ? 0 : x === null ? 1 : y === null ? -1 : x < y ? -1 : 1) * sortDir; });
    if (!runs.length) { holder.append(empty(`No runs in the store yet (${info?.store ?? ''}). Start an evaluation in the Live monitor tab, or record runs with lcte eval / lcte study.`)); return; }
    if (!rows.length) { holder.append(empty('No run matches these filters.')); return; }
    // Each sortable header is a button (reachable and pressed by keyboard) and says its order.
    const sortBy = name => { sortDir = sortKey === name ? -sortDir : -1; sortKey = name; render(); $(`#runs-table th[data-col="${name}"] button`)?.focus(); };
    const head = h('tr', {}, cols.map(([name]) => name ? h('th', { scope: 'col', 'data-col': name, class: 'sortable' + (['pass@1', 'samples', 'energy (J)'].includes(name) ? ' num' : ''),
      'aria-sort': sortKey === name ? (sortDir < 0 ? 'descending' : 'ascending') : 'none' },
      h('button', { type: 'button', class: 'sort', onclick: () => sortBy(name) }, name, h('span', { 'aria-hidden': 'true' }, sortKey === name ? (sortDir < 0 ? ' ▼' : ' ▲') : ''))) :
      h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'selected'))));
    const body = rows.map(r => h('tr', { 'data-run': r.id },
      h('td', {}, h('input', { type: 'checkbox', 'aria-label': `select run ${r.id}`, checked: selected.has(r.id), onchange: e => { e.target.checked ? selected.add(r.id) : selected.delete(r.id); update(); } })),
      h('td', {}, h('a', { href: `#/run/${encodeURIComponent(r.id)}` }, r.id)), h('td', {}, r.model), h('td', {}, r.kind), h('td', {}, r.config?.suite ?? ''),
      h('td', {}, badge(r.status)), h('td', {}, r.started_at), h('td', { class: 'num' }, pct(p1(r))), h('td', { class: 'num' }, fmt(cols[8][1](r))), h('td', { class: 'num' }, fmt(cols[9][1](r)))));
    holder.append(scrollBox('Runs', h('table', { id: 'runs-table' }, h('thead', {}, head), h('tbody', {}, body))));
  };
  for (const el of [q, kind, status]) el.addEventListener('input', render);
  render(); update();
};

views.run = async (root, id) => {
  let v;
  try { v = await api(`/api/runs/${encodeURIComponent(id)}`); } catch (e) { root.append(h('h1', {}, 'Run'), errorBox(e)); return; }
  const r = v.run;
  root.append(h('h1', {}, `Run ${r.id} `, badge(r.status)));
  root.append(h('div', { class: 'toolbar' },
    h('a', { class: 'button', id: 'samples-csv', href: `/api/runs/${encodeURIComponent(r.id)}/samples.csv`, download: `${r.id}-samples.csv` }, 'Download samples CSV'),
    h('a', { class: 'button', href: `/api/summary.csv?ids=${encodeURIComponent(r.id)}`, download: 'summary.csv' }, 'Download summary CSV')));
  const stats = h('div', { class: 'stats' }, stat('model', r.model || '–'), stat('suite', v.suite || '–'), stat('samples', fmt(v.samples)), stat('passed', fmt(v.passed)),
    ...Object.entries(v.pass_at_k).map(([k, x]) => stat(k, pct(x))), stat('latency p50 (s)', fmt(v.latency_p50_s)), stat('execution p50 (s)', fmt(v.exec_p50_s)),
    stat(v.energy_estimated ? 'energy (J, estimate)' : 'energy (J)', fmt(v.energy_j)), stat('peak RSS (MiB)', v.peak_rss_bytes ? fmt(v.peak_rss_bytes / 2 ** 20) : '–'),
    stat('started', r.started_at), stat('finished', r.finished_at || '–'));
  root.append(h('div', { class: 'card' }, stats));
  if (r.summary?.error) root.append(h('div', { class: 'error' }, `This run ended with an error: ${r.summary.error}`));
  const grid = h('div', { class: 'grid', id: 'run-charts' }); root.append(grid);
  const ks = Object.keys(v.pass_at_k);
  grid.append(ks.length ? barChart('pass@k', ks, [{ name: v.label, values: ks.map(k => v.pass_at_k[k]) }], 'pass rate (0-1)', 1) : empty('No pass@k: this run has no samples yet.'));
  let metrics = {}, samples = [];
  try { [metrics, samples] = await Promise.all([api(`/api/runs/${encodeURIComponent(r.id)}/metrics`), api(`/api/runs/${encodeURIComponent(r.id)}/samples`)]); }
  catch (e) { root.append(errorBox(e)); return; }
  const series = (name, scale = 1) => metrics[name] ? [metrics[name].map(p => p[0]), metrics[name].map(p => p[1] * scale)] : null;
  // Backends without generation timing (canonical) report 0 or nothing: show execution time then.
  const hasLatency = samples.some(x => x.latency_s > 0);
  const lat = samples.map(x => (hasLatency ? x.latency_s : x.exec_s)).filter(Number.isFinite);
  if (lat.length) grid.append(lineChart(hasLatency ? 'Latency per sample' : 'Sandbox execution time per sample (no generation latency recorded)', 'seconds', [hasLatency ? 'latency' : 'execution'], [lat.map((_, i) => i + 1), lat], { xLabel: 'sample', points: true }));
  const pr = series('pass_rate');
  if (pr) grid.append(lineChart('Running pass rate', 'pass rate (0-1)', ['pass rate'], pr, { yRange: [0, 1] }));
  const specs = resourceSpecs(metrics);
  for (const spec of specs) grid.append(resourceChart(spec));
  if (!specs.length && !pr) grid.append(empty('No resource time series were recorded for this run (runs made outside the dashboard may not record them).'));
  root.append(h('h2', {}, `Samples (${samples.length})`));
  if (!samples.length) { root.append(empty('No samples stored for this run.')); return; }
  const detail = h('pre', { class: 'hidden', id: 'sample-detail', tabindex: '-1', 'aria-live': 'polite' });
  // The row is clickable; its task cell is a button, so the keyboard gets there too.
  const showSample = x => { detail.classList.remove('hidden'); detail.textContent = `${x.task_id} #${x.sample_index} (${x.status})\n\n${x.completion}`; };
  const rows = samples.map(x => h('tr', { class: 'clickable', onclick: e => { if (e.target.tagName !== 'BUTTON') showSample(x); } },
    h('td', {}, h('button', { type: 'button', class: 'linkish', onclick: () => { showSample(x); detail.focus(); } }, x.task_id)), h('td', { class: 'num' }, x.sample_index), h('td', { class: x.passed ? 'pass' : 'fail' }, x.status), h('td', {}, x.error_type || ''),
    h('td', { class: 'num' }, fmt(x.latency_s)), h('td', { class: 'num' }, fmt(x.exec_s)), h('td', { class: 'num' }, x.completion_tokens >= 0 ? x.completion_tokens : '–')));
  root.append(scrollBox('Samples', h('table', { id: 'samples-table' },
    h('thead', {}, h('tr', {}, ['task (show the completion)', 'sample', 'status', 'error', 'latency (s)', 'execution (s)', 'tokens'].map(c => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows))), detail);
};

views.live = async (root) => {
  root.append(h('h1', {}, 'Live monitor'));
  const models = info.models;
  const form = h('form', { class: 'inline card', id: 'start-form' },
    h('label', {}, 'Suite', h('select', { name: 'suite' }, info.suites.map(x => h('option', { value: x }, x)))),
    h('label', {}, 'Models', h('select', { name: 'models', multiple: true, size: Math.min(4, models.length) }, models.map((m, i) => h('option', { value: m, selected: i === 0 }, m)))),
    h('label', {}, 'Samples per task (n)', h('input', { type: 'number', name: 'n', value: 1, min: 1, max: 200 })),
    h('label', {}, 'Temperature', h('input', { type: 'number', name: 'temperature', value: 0, min: 0, max: 2, step: 0.1 })),
    h('label', {}, 'First N tasks (0: all)', h('input', { type: 'number', name: 'limit', value: 10, min: 0 })),
    h('button', { type: 'submit', id: 'start-eval' }, 'Start evaluation'),
    h('button', { type: 'button', class: 'secondary', id: 'stop-eval' }, 'Stop'));
  const msg = h('div');
  root.append(form, msg);
  form.onsubmit = async (e) => {
    e.preventDefault(); msg.replaceChildren();
    const f = new FormData(form);
    const body = { suite: f.get('suite'), models: f.getAll('models'), n: +f.get('n'), temperature: +f.get('temperature'), limit: +f.get('limit') };
    try { const job = await api('/api/evals', { method: 'POST', body }); if (live.job?.id !== job.id) { live.reset(); live.job = job; } toast(`Started ${job.id}`); }
    catch (err) { msg.append(errorBox(err)); }
  };
  $('#stop-eval', form).onclick = async () => {
    msg.replaceChildren();
    if (!live.job) { msg.append(errorBox('No evaluation is running.')); return; }
    try { await api(`/api/evals/${live.job.id}/stop`, { method: 'POST', body: {} }); toast('Stopping…'); } catch (err) { msg.append(errorBox(err)); }
  };
  const status = h('div', { class: 'card', id: 'live-status' });
  const grid = h('div', { class: 'grid', id: 'live-charts' });
  const log = scrollBox('Events');
  const others = h('div', { id: 'store-runs' });
  root.append(status, h('h2', {}, 'Running in the store (any process)'), others, grid, h('h2', {}, 'Events'), log);
  if (!live.job) { try { const jobs = await api('/api/evals'); if (jobs.length) live.job = jobs[0]; } catch { /* shown as empty */ } }
  const c1 = lineChart('Progress', 'samples done', ['samples'], [[], []]);
  const c2 = lineChart('Running pass rate', 'pass rate (0-1)', ['pass rate'], [[], []], { yRange: [0, 1] });
  const c3 = lineChart('Latency per sample (execution time when the backend reports none)', 'seconds', ['latency or execution'], [[], []], { xLabel: 'sample', points: true });
  grid.append(c1, c2, c3);
  // The resource charts of the run being measured, drawn as its run page draws
  // them (resourceSpecs); a chart is made when its first series arrives.
  const resNote = h('p', { class: 'muted', id: 'res-note' }, 'Resource charts (CPU, memory, energy, GPU) appear with the first reading of a run started here.');
  const gpuNote = h('p', { class: 'muted', id: 'gpu-note' }, 'No GPU readings yet: the server reports GPUs only where NVML or nvidia-smi is present.');
  const resCharts = new Map();  // key -> {box, names}
  grid.before(h('div', {}, resNote, gpuNote));
  const drawResources = () => {
    const specs = resourceSpecs(live.metrics[live.resRun] || {});
    for (const [key, c] of resCharts) if (!specs.some(x => x.key === key)) { c.box.remove(); resCharts.delete(key); }
    for (const spec of specs) {
      const c = resCharts.get(spec.key), names = spec.names.join('\n');
      if (c && c.names === names) { c.box.update(spec.data); continue; }
      const box = resourceChart(spec);
      if (c) c.box.replaceWith(box); else grid.append(box);
      resCharts.set(spec.key, { box, names });
    }
    resNote.classList.toggle('hidden', specs.length > 0);
    gpuNote.classList.toggle('hidden', specs.some(x => x.key.startsWith('gpu-')));
  };
  const draw = () => {
    const j = live.job;
    status.replaceChildren();
    if (!j) { status.append(empty('Nothing running. Start an evaluation above; its progress, pass rate, latency and resources appear here as the server pushes them.')); }
    else {
      const total = j.total || 0, done = j.done || 0;
      status.append(h('div', { class: 'stats' }, stat('job', j.id), stat('status', j.status, 'live-job-status'), stat('samples', `${done}/${total}`, 'live-done'),
        stat('passed', fmt(j.passed ?? 0)), stat('events received', fmt(live.samples), 'live-samples'), stat('runs', (j.run_ids || []).length)),
        h('div', { class: 'progress' }, Object.assign(h('div'), {})), j.error ? h('div', { class: 'error' }, j.error) : '',
        ...(j.run_ids || []).map(id => h('div', {}, 'run ', h('a', { href: `#/run/${encodeURIComponent(id)}` }, id))));
      $('.progress > div', status).style.width = total ? `${100 * done / total}%` : '0';
    }
    const running = Object.values(live.store);
    others.replaceChildren(running.length ? h('table', {}, h('thead', {}, h('tr', {}, ['run', 'kind', 'model', 'samples', 'passed'].map(x => h('th', {}, x)))),
      h('tbody', {}, running.map(r => h('tr', {}, h('td', {}, h('a', { href: `#/run/${encodeURIComponent(r.run_id)}` }, r.run_id)), h('td', {}, r.kind), h('td', {}, r.model),
        h('td', { class: 'num' }, r.samples), h('td', { class: 'num' }, r.passed))))) : empty('No run is being written to the store right now (the server checks once a second).'));
    c1.update([live.progress[0], live.progress[1]]);
    c2.update([live.progress[0], live.progress[2]]);
    c3.update(live.latency);
    drawResources();
    log.replaceChildren(live.events.length ? h('table', {}, h('tbody', {}, live.events.slice(0, 60).map(e => h('tr', {}, h('td', {}, e.at), h('td', {}, e.type),
      h('td', {}, describeEvent(e.type, e.d)))))) : empty('No events yet.'));
  };
  let pending = false;
  let jobFetch = 0;  // only the newest job refresh is applied (responses can land out of order)
  const onEvent = (type, d) => {
    if (type === 'try_token') return;
    if (type === 'progress' && live.job) { const mine = ++jobFetch;
      api(`/api/evals`).then(js => { if (mine !== jobFetch) return; const j = js.find(x => x.id === live.job?.id); if (j && live.job.status === 'running') live.job = j; }).catch(() => {}); }
    if (!pending) { pending = true; requestAnimationFrame(() => { pending = false; if (root.isConnected) draw(); }); }
  };
  listeners.add(onEvent);
  root.cleanup = () => listeners.delete(onEvent);
  draw();
};

views.try = async (root) => {
  root.append(h('h1', {}, 'Interactive testing'));
  const suiteSel = h('select', { id: 'try-suite' }, info.suites.map(x => h('option', { value: x }, x)));
  const search = h('input', { type: 'text', placeholder: 'search problems', id: 'try-search' });
  const list = h('div', { class: 'list', id: 'problem-list', role: 'group', 'aria-label': 'Problems' });
  const pane = h('div', {});
  root.append(h('div', { class: 'split' }, h('div', {}, h('div', { class: 'toolbar' }, h('label', {}, 'Suite', suiteSel), h('label', {}, 'Search', search)), list), pane));
  let problems = [];
  // A newer suite or problem choice wins over an older request still in flight.
  let loadGeneration = 0, openGeneration = 0;
  const load = async () => {
    const mine = ++loadGeneration;
    list.replaceChildren(h('div', { class: 'muted' }, 'Loading…'));
    try { const r = await api(`/api/suites/${suiteSel.value}/problems`); if (mine !== loadGeneration) return; problems = r.problems; show(); }
    catch (e) { if (mine === loadGeneration) list.replaceChildren(errorBox(e)); }
  };
  const show = () => {
    const q = search.value.toLowerCase();
    const rows = problems.filter(p => !q || `${p.task_id} ${p.entry_point} ${p.summary}`.toLowerCase().includes(q));
    // Buttons: reachable by Tab, pressed with Enter or Space.
    list.replaceChildren(...(rows.length ? rows.map(p => h('button', { type: 'button', class: 'item', 'data-task': p.task_id, 'aria-pressed': 'false', onclick: (e) => {
      for (const d of list.children) { d.classList.remove('sel'); d.setAttribute('aria-pressed', 'false'); }
      e.currentTarget.classList.add('sel'); e.currentTarget.setAttribute('aria-pressed', 'true'); open(p.task_id); } },
      h('b', {}, p.task_id), ' ', h('span', { class: 'muted' }, p.entry_point))) : [empty('No problem matches.')]));
  };
  const open = async (taskId) => {
    const mine = ++openGeneration;
    pane.replaceChildren(h('p', { class: 'muted' }, 'Loading…'));
    let p;
    try { p = await api(`/api/problem?suite=${encodeURIComponent(suiteSel.value)}&task_id=${encodeURIComponent(taskId)}`); }
    catch (e) { if (mine === openGeneration) pane.replaceChildren(errorBox(e)); return; }
    if (mine !== openGeneration) return;
    const form = h('form', { class: 'inline', id: 'try-form' },
      h('label', {}, 'Models (several: side by side)', h('select', { name: 'model', multiple: true, size: Math.min(4, info.models.length + 1) },
        h('option', { value: 'auto', selected: true }, 'auto (router)'), info.models.map(m => h('option', { value: m }, m)))),
      h('label', {}, 'Temperature', h('input', { type: 'number', name: 'temperature', value: 0, min: 0, max: 2, step: 0.1 })),
      h('label', {}, 'Max tokens', h('input', { type: 'number', name: 'max_tokens', value: 512, min: 1, max: 8192 })),
      h('label', {}, 'Samples (n)', h('input', { type: 'number', name: 'n', value: 1, min: 1, max: 20 })),
      h('button', { type: 'submit', id: 'try-run' }, 'Run'));
    const out = h('div', { class: 'side', id: 'try-results' });
    const r = p.route;
    pane.replaceChildren(h('h2', {}, p.task_id, ' ', h('span', { class: 'muted' }, p.entry_point)),
      h('div', { class: 'card', id: 'route-preview' }, h('b', {}, 'Router: '), r.error ? `none (${r.error})` : `complexity score ${r.score}/10 from ${r.n_tokens_at_least ? 'at least ' : ''}${r.n_tokens} tokens (${r.tokenizer}) → tier ${r.tier} (${r.model}). Why: ${r.reason}`),
      h('pre', {}, p.prompt), form, out);
    form.onsubmit = async (e) => {
      e.preventDefault();
      const f = new FormData(form);
      const models = f.getAll('model').length ? f.getAll('model') : ['auto'];
      const n = +f.get('n');
      const run = $('#try-run', form);
      run.disabled = true;
      out.replaceChildren();
      await Promise.all(models.map(m => tryOne(m, { suite: suiteSel.value, task_id: p.task_id, model: m, temperature: +f.get('temperature'), max_tokens: +f.get('max_tokens'), n })));
      run.disabled = false;
    };
    // One model's card: each sample's text streams into its box as the server
    // pushes it, then its test result; the totals when the request returns.
    const tryOne = async (m, body) => {
      const samples = Array.from({ length: body.n }, (_, i) => {
        const text = document.createTextNode('');
        const head = h('p', {}, `sample ${i}: `, h('span', { class: 'muted' }, 'generating…'));
        const pre = h('pre', { class: 'try-stream' }, text);
        return { text, head, pre, el: h('div', { class: 'try-sample', 'data-sample': i }, head, pre), chunk: 0, done: false };
      });
      const card = h('div', { class: 'card try-card', 'data-model': m }, h('h2', {}, m), h('p', { class: 'muted' }, 'Running…'), ...samples.map(x => x.el));
      out.append(card);
      // The server refuses a client id another running try holds, so these
      // events are this card's alone.
      const clientId = randomId();
      let finished = false;
      const onTry = (type, d) => {
        if (finished || d.client_id !== clientId || (type !== 'try' && type !== 'try_token')) return;
        const x = samples[d.sample_index];
        if (!x || x.done) return;
        if (type === 'try_token') {
          if (d.chunk !== x.chunk) return;  // a gap: the sample's result brings the whole text
          x.chunk++;
          x.text.appendData(d.text);
          x.pre.scrollTop = x.pre.scrollHeight;
        } else {
          x.done = true;
          x.head.replaceChildren(`sample ${d.sample_index}: `, h('span', { class: d.passed ? 'pass' : 'fail' }, d.status), ` · execution ${fmt(d.exec_s)} s`);
          x.text.data = d.completion;
        }
      };
      listeners.add(onTry);
      try {
        const res = await api('/api/try', { method: 'POST', body: { ...body, client_id: clientId } });
        await eventsThrough(res.events_through);
        finished = true;
        listeners.delete(onTry);
        card.replaceChildren(h('h2', {}, m === 'auto' ? `auto → ${res.model}` : m),
          res.route ? h('p', { class: 'muted' }, `score ${res.route.score}, tier ${res.route.tier}: ${res.route.reason}`) : '',
          h('div', { class: 'stats' }, ...Object.entries(res.pass_at_k).map(([k, x]) => stat(k, pct(x))), stat('passed', `${res.passed}/${res.n}`),
            stat('wall time (s)', fmt(res.wall_s)), stat(res.energy.estimated ? 'energy (J, estimate)' : 'energy (J)', fmt(res.energy.total_joules))),
          ...res.samples.map(x => h('div', { class: 'try-sample', 'data-sample': x.sample_index }, h('p', {}, `sample ${x.sample_index}: `, h('span', { class: x.passed ? 'pass' : 'fail' }, x.status), x.error_type ? ` (${x.error_type})` : '',
            ` · latency ${fmt(x.latency_s)} s · execution ${fmt(x.exec_s)} s · tokens ${x.completion_tokens >= 0 ? x.completion_tokens : '–'}`), h('pre', {}, x.completion))));
        card.dataset.done = '';
      } catch (err) { finished = true; listeners.delete(onTry); card.replaceChildren(h('h2', {}, m), errorBox(err)); }
    };
  };
  suiteSel.onchange = load; search.oninput = show;
  pane.append(empty('Pick a problem on the left. The router shows the complexity score and the tier it would choose; run it on one model, several side by side, or let the router choose.'));
  await load();
};

views.compare = async (root, _arg, params) => {
  root.append(h('h1', {}, 'Compare runs'));
  const ids = (params.get('ids') || '').split(',').filter(Boolean);
  if (!ids.length) { root.append(empty('Select runs in the Experiments tab and press "Compare selected". To see one problem on several models side by side, pick several models in the Interactive tab.')); return; }
  let c;
  try { c = await api(`/api/compare?ids=${encodeURIComponent(ids.join(','))}`); } catch (e) { root.append(errorBox(e)); return; }
  root.append(h('div', { class: 'toolbar' }, h('a', { class: 'button', href: `/api/summary.csv?ids=${encodeURIComponent(ids.join(','))}`, download: 'summary.csv' }, 'Download summary CSV')));
  // Two runs of one model need telling apart: add the run id's last characters.
  const counts = {};
  for (const r of c.runs) counts[r.label] = (counts[r.label] || 0) + 1;
  for (const r of c.runs) if (counts[r.label] > 1) r.label = `${r.label} ·${r.run.id.slice(-4)}`;
  for (const p of c.points) p.label = c.runs.find(r => r.run.id === p.run_id).label;
  const ks = [...new Set(c.runs.flatMap(r => Object.keys(r.pass_at_k)))];
  root.append(scrollBox('Compared runs', h('table', { id: 'compare-table' }, h('thead', {}, h('tr', {}, ['run', 'model', 'suite', 'samples', ...ks, 'latency p50 (s)', 'execution p50 (s)', 'energy (J)', 'Pareto'].map(x => h('th', {}, x)))),
    h('tbody', {}, c.runs.map(r => h('tr', {}, h('td', {}, h('a', { href: `#/run/${encodeURIComponent(r.run.id)}` }, r.run.id)), h('td', {}, r.label), h('td', {}, r.suite), h('td', { class: 'num' }, r.samples),
      ...ks.map(k => h('td', { class: 'num' }, pct(r.pass_at_k[k]))), h('td', { class: 'num' }, fmt(r.latency_p50_s)), h('td', { class: 'num' }, fmt(r.exec_p50_s)), h('td', { class: 'num' }, fmt(r.energy_j)),
      h('td', {}, c.pareto.includes(r.run.id) ? 'yes' : '')))))));
  const front = c.points.filter(p => c.pareto.includes(p.run_id)).map(p => ({ x: p.cost_s, y: p.accuracy })).sort((a, b) => a.x - b.x);
  root.append(h('div', { class: 'grid' },
    scatterChart('Accuracy against cost', c.points.map(p => ({ x: p.cost_s, y: p.accuracy, label: p.label, group: p.label })), front, 'cost: mean seconds per sample', 'pass@1 (0-1)'),
    barChart('pass@k by run', ks, c.runs.map(r => ({ name: r.label, values: ks.map(k => r.pass_at_k[k] ?? NaN) })), 'pass rate (0-1)', 1)));
  root.append(h('p', { class: 'muted' }, `Cost: ${c.cost_unit}.`), h('h2', {}, `Per-problem grid (${c.grid.length} problems)`));
  root.append(scrollBox('Per-problem grid', h('table', { id: 'grid-table' }, h('thead', {}, h('tr', {}, h('th', {}, 'task'), c.runs.map(r => h('th', {}, r.label)))),
    h('tbody', {}, c.grid.map(row => h('tr', {}, h('td', {}, row.task_id), row.results.map(x => x === null ? h('td', { class: 'cell-none' }, '–') :
      h('td', { class: x[0] === x[1] ? 'cell-pass' : x[0] === 0 ? 'cell-fail' : 'cell-part' }, `${x[0]}/${x[1]}`))))))));
};

views.routing = async (root) => {
  root.append(h('h1', {}, 'Routing'));
  const msg = h('div', { id: 'rules-msg' });
  let rules;
  try { rules = await api('/api/routing/rules'); } catch (e) { root.append(errorBox(e)); return; }
  const field = (label, name, value, attrs = {}) => h('label', {}, label, h('input', { type: 'text', name, value, ...attrs }));
  const form = h('form', { class: 'card', id: 'rules-form' });
  const fill = (r) => {
    const policies = ['threshold', 'random', 'learned', ...r.tiers.map(t => `always-${t}`)];
    form.replaceChildren(h('div', { class: 'inline toolbar' },
      h('label', {}, 'Policy', h('select', { name: 'policy' }, policies.map(p => h('option', { value: p, selected: r.policy === p }, p)))),
      field('Token bounds of scores 1-9 (comma-separated)', 'token_bounds', r.token_bounds.join(','), { size: 40 }),
      field('Tiers, cheapest first', 'tiers', r.tiers.join(',')),
      field('Highest score per tier', 'max_score', r.max_score.join(',')),
      field('Model per tier', 'models', r.models.join(','))),
      h('div', { class: 'inline toolbar' },
        field('Tokenizer (empty: cl100k_base)', 'tokenizer', r.tokenizer),
        h('label', {}, 'Random: share to last tier', h('input', { type: 'number', name: 'random_share', value: r.random_share, min: 0, max: 1, step: 0.05 })),
        field('Learned: router file', 'learned_model', r.learned_model),
        h('label', {}, 'Learned: target', h('input', { type: 'number', name: 'learned_target', value: r.learned_target, min: 0, max: 1, step: 0.05 })),
        h('label', {}, 'Forced override', h('select', { name: 'forced_tier' }, h('option', { value: '' }, 'none'), r.tiers.map(t => h('option', { value: t, selected: r.forced_tier === t }, t)))),
        h('button', { type: 'submit', id: 'save-rules' }, 'Apply and save'), h('span', { class: 'muted', id: 'rules-version' }, `version ${r.version}`)),
      ...(r.error ? [h('p', { class: 'error' }, `No router: ${r.error}`)] : []));
  };
  fill(rules);
  const list = v => v.split(',').map(x => x.trim()).filter(Boolean);
  form.onsubmit = async (e) => {
    e.preventDefault(); msg.replaceChildren();
    const f = new FormData(form);
    const body = { policy: f.get('policy'), token_bounds: list(f.get('token_bounds')).map(Number), tiers: list(f.get('tiers')), max_score: list(f.get('max_score')).map(Number),
      models: list(f.get('models')), tokenizer: f.get('tokenizer').trim(), random_share: +f.get('random_share'), learned_model: f.get('learned_model').trim(),
      learned_target: +f.get('learned_target'), seed: rules.seed, forced_tier: f.get('forced_tier') };
    try { rules = await api('/api/routing/rules', { method: 'PUT', body }); fill(rules); msg.append(h('p', { class: 'pass' }, `Applied: version ${rules.version}.`)); }
    catch (err) { msg.append(errorBox(err)); }
  };
  const query = h('textarea', { id: 'route-query', 'aria-label': 'Query to route', placeholder: 'A query to route, e.g. a HumanEval prompt' });
  const result = h('div', { id: 'route-result' });
  const tryBtn = h('button', { type: 'button', id: 'route-btn', onclick: async () => { result.replaceChildren();
    try { const d = await api('/api/route', { method: 'POST', body: { query: query.value } }); result.append(h('p', {}, `score ${d.score}/10 from ${d.n_tokens_at_least ? 'at least ' : ''}${d.n_tokens} ${d.tokenizer} tokens → tier `, h('b', {}, d.tier), ` (${d.model}) by ${d.policy}${d.override ? ' (forced)' : ''}: ${d.reason}`)); }
    catch (err) { result.append(errorBox(err)); } } }, 'Route');
  root.append(form, msg, h('h2', {}, 'Try a query'), h('div', { class: 'card' }, query, h('div', { class: 'toolbar' }, tryBtn), result));
  const logBox = scrollBox('Decision log');
  logBox.id = 'decision-log';
  root.append(h('h2', {}, 'Decision log (live)'), logBox);
  // Events can arrive faster than the fetches return, and responses can come
  // back out of order: only the newest request may redraw the table.
  let logGeneration = 0;
  const drawLog = async () => {
    const mine = ++logGeneration;
    try { const ds = await api('/api/routing/decisions?limit=100');
      if (mine !== logGeneration) return;
      logBox.replaceChildren(ds.length ? h('table', {}, h('thead', {}, h('tr', {}, ['time', 'tokens', 'tokenizer', 'score', 'policy', 'rules', 'tier', 'override', 'µs', 'reason'].map(x => h('th', {}, x)))),
        h('tbody', {}, ds.map(d => h('tr', {}, h('td', {}, d.time), h('td', { class: 'num' }, `${d.n_tokens}${d.n_tokens_at_least ? '+' : ''}`), h('td', {}, d.tokenizer), h('td', { class: 'num' }, d.score), h('td', {}, d.policy), h('td', {}, d.policy_version), h('td', {}, d.tier), h('td', {}, d.override ? 'yes' : ''), h('td', { class: 'num' }, fmt(d.decision_us)), h('td', {}, d.reason))))) : empty('No routing decisions yet. Route a query above, or send requests to lcte serve.'));
    } catch (e) { if (mine === logGeneration) logBox.replaceChildren(errorBox(e)); }
  };
  const onEvent = (type) => { if ((type === 'decision' || type === 'rules') && root.isConnected) drawLog(); };
  listeners.add(onEvent); root.cleanup = () => listeners.delete(onEvent);
  await drawLog();
  // Cost-quality curve on two stored runs (cheap tier, strong tier).
  root.append(h('h2', {}, 'Cost-quality curve of the policies on stored runs'));
  let runs = [];
  try { runs = (await api('/api/runs?kind=eval')).filter(r => r.status === 'finished'); } catch { /* empty below */ }
  const curveBox = h('div', { id: 'curve' });
  if (runs.length < 2) { root.append(empty('Needs two finished evaluation runs on the same suite (a cheap and a strong model).')); return; }
  const opt = (sel) => runs.map((r, i) => h('option', { value: r.id, selected: i === sel }, `${r.model} · ${r.config?.suite ?? ''} · ${r.id}`));
  const cheap = h('select', { id: 'curve-cheap' }, opt(1)), strong = h('select', { id: 'curve-strong' }, opt(0));
  const draw = async () => { curveBox.replaceChildren();
    try { const c = await api(`/api/routing/curve?runs=${encodeURIComponent(cheap.value + ',' + strong.value)}`);
      const lines = Object.entries(c.curves).map(([name, pts]) => ({ name, points: pts.map(p => ({ x: p.cost, y: p.accuracy })) }));
      curveBox.append(scatterChart(`Accuracy against cost on ${c.problems} problems (APGR ${c.apgr === null ? '–' : c.apgr.toFixed(3)})`,
        [{ x: c.current.cost, y: c.current.accuracy, label: 'current rules', group: 'current rules' }, { x: c.oracle.cost, y: c.oracle.accuracy, label: 'oracle', group: 'oracle' }],
        c.pareto.map(p => ({ x: p.cost, y: p.accuracy })), 'cost: mean seconds per problem', 'accuracy (0-1)', lines));
    } catch (e) { curveBox.append(errorBox(e)); } };
  root.append(h('div', { class: 'toolbar' }, h('label', {}, 'Cheap tier run', cheap), h('label', {}, 'Strong tier run', strong), h('button', { type: 'button', id: 'curve-draw', onclick: draw }, 'Draw')), curveBox);
};

views.about = async (root) => {
  root.append(h('h1', {}, 'About lcte'),
    h('div', { class: 'card' },
      h('p', {}, 'lcte, the LLM Compression Trade-off Evaluator, measures what quantizing, distilling and routing code models costs in correctness, speed and energy.'),
      h('h2', {}, 'What is measured, and how'),
      h('ul', {},
        h('li', {}, 'Correctness: pass@k, the unbiased estimator of Chen et al. (2021), 1 − C(n−c, k)/C(n, k) per problem for n samples of which c passed, averaged over problems; not reported when k > n.'),
        h('li', {}, 'Execution: every completion runs in lcte\'s sandbox (separate namespaces, resource limits, a seccomp filter, no network) against the suite\'s tests, with a wall-clock and CPU timeout.'),
        h('li', {}, 'Latency: time to first token, time per output token and request latency as the backend reports them; the canonical backend (reference solutions) has none, so its charts show execution time.'),
        h('li', {}, 'Resources: CPU (process and sandbox children), resident memory, GPU utilisation and power (NVML or nvidia-smi when present), sampled in the background.'),
        h('li', {}, 'Energy: measured where a counter exists (RAPL for the CPU package, NVML energy counters for GPUs); otherwise estimated from CPU time with a power model and always labelled "estimate".'),
        h('li', {}, 'Routing: a complexity score from the query\'s token count (1-10; by default up to 150 cl100k_base tokens goes to the small tier, 151 and more to the large tier), policies (threshold, random, learned, always-<tier>, forced override), and offline cost-quality curves with APGR.')),
      h('h2', {}, 'This server'),
      h('table', {}, h('tbody', {}, [['lcte version', info.version], ['store', info.store], ['routing rules file', info.rules_path || '(in memory)'], ['models', info.models.join(', ')],
        ['routing tokenizer', info.token_count], ['binding', info.loopback_only ? 'loopback only' : 'beyond loopback (token required)']].map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, v))))),
      h('h2', {}, 'Documentation'),
      h('p', {}, 'In the source tree: docs/parts/dashboard.md (this dashboard), docs/parts/eval.md (pass@k, suites, sandboxed execution), docs/parts/sandbox.md, docs/commands.md, docs/formats.md.')));
};

// ---------- router ----------
let current = null;
async function route() {
  const [path, query] = (location.hash.slice(1) || '/runs').split('?');
  const parts = path.split('/').filter(Boolean);
  const name = parts[0] || 'runs';
  const arg = parts.slice(1).map(decodeURIComponent).join('/');
  const tab = name === 'run' ? 'runs' : name;
  for (const a of document.querySelectorAll('#tabs a')) a.classList.toggle('active', a.dataset.tab === tab);
  if (current?.cleanup) current.cleanup();
  const root = h('div', { 'data-view': name });
  $('#view').replaceChildren(root);
  current = root;
  const view = views[name];
  if (!view) { root.append(errorBox(`No page "${name}".`)); return; }
  try { await view(root, arg, new URLSearchParams(query || '')); }
  catch (e) { root.append(errorBox(e)); }
  root.dataset.ready = '1';
}

async function start() {
  try { info = await api('/api/info'); }
  catch (e) { $('#view').replaceChildren(errorBox(e)); return; }
  if (session.loginRequired) $('#logout').classList.remove('hidden');
  connectEvents();
  window.addEventListener('hashchange', route);
  route();
}

(async () => {
  $('#logout').addEventListener('click', logout);
  let ready = false;
  try { ready = await initSession(); } catch (e) { $('#view').replaceChildren(errorBox(e)); return; }
  if (ready) start(); else loginView(start);
})();
