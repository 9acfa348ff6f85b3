// Browser end-to-end test of the dashboard: starts `lcte dashboard` on a free
// loopback port with an empty store, drives Debian's chromium with
// playwright-core, and checks every tab: a canonical evaluation started from
// the Live tab updates the live charts over SSE, lands in the store, its run
// page draws charts and its CSV download has one row per sample; a routing
// rule changed in the UI takes effect on the next API request. Screenshots
// of every tab go to --out. Exits 77 (skipped) when a prerequisite is absent.
// A fake nvidia-smi (tests/measure/fake-bin) is first on the server's PATH,
// so the live monitor's GPU chart is exercised on machines without a GPU.
// With models/stories260K-f32.gguf in the data, `lcte serve` runs that tiny
// model and the interactive tab must show its text streaming in before the
// result. axe-core checks every tab (WCAG 2.1 A and AA rules); sortable
// headers, problem lists and sample rows are driven by keyboard; a second
// server with a token checks the login and its HttpOnly, SameSite=Strict
// session cookie.
//
//   node tests/dashboard/e2e.mjs --lcte build/src/cli/lcte --out build/web-e2e [--data ../shared/data]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const lcte = resolve(args.lcte || 'build/src/cli/lcte');
const out = resolve(args.out || 'build/web-e2e');
const data = process.env.LCTE_DATA_DIR || args.data || resolve(here, '../../../shared/data');
const chromiumPath = process.env.CHROMIUM || '/usr/bin/chromium';
const webDir = resolve(here, '../../web');
const fakeBin = resolve(here, '../measure/fake-bin');
const tinyModel = join(data, 'models', 'stories260K-f32.gguf');
// The routing rules count tokens with GPT-2's vocabulary (a file in the data), so
// the test does not depend on where cl100k_base is installed.
const routingVocab = join(data, 'tokenizer', 'ggml-vocab-gpt-2.gguf');

function skip(why) { console.log(`SKIP: ${why}`); process.exit(77); }
if (!existsSync(chromiumPath)) skip(`no chromium at ${chromiumPath} (apt-get install chromium, or set CHROMIUM)`);
if (!existsSync(join(webDir, 'node_modules', 'playwright-core'))) skip(`web/node_modules is missing (cd web && npm ci)`);
const axePath = join(webDir, 'node_modules', 'axe-core', 'axe.min.js');
if (!existsSync(axePath)) { console.log(`FAIL: ${axePath} is missing: run npm ci in web/ (package-lock.json lists axe-core)`); process.exit(1); }
const axeSource = readFileSync(axePath, 'utf8');
if (!existsSync(lcte)) skip(`no lcte binary at ${lcte}`);
if (!existsSync(join(data, 'humaneval', 'HumanEval.jsonl.gz'))) skip(`data file absent: ${join(data, 'humaneval/HumanEval.jsonl.gz')} (set LCTE_DATA_DIR)`);
if (!existsSync(routingVocab)) skip(`data file absent: ${routingVocab} (set LCTE_DATA_DIR)`);
const { chromium } = createRequire(join(webDir, 'package.json'))('playwright-core');

let failures = 0;
function check(cond, what) { console.log(`${cond ? 'ok  ' : 'FAIL'} ${what}`); if (!cond) failures++; }

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const started = Date.now();

// A server on a port the kernel picks; its first stdout line names the URL.
const serverEnv = { ...process.env, LCTE_DATA_DIR: data, PATH: `${fakeBin}:${process.env.PATH}` };
function startServer(argv, name) {
  const proc = spawn(lcte, argv, { env: serverEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stderr.on('data', d => { log += d; });
  const url = new Promise((ok, fail) => {
    let text = '';
    const timer = setTimeout(() => fail(new Error(`${name} did not start: ${text}${log}`)), 20000);
    proc.stdout.on('data', d => { text += d; const m = text.match(/listening on (http:\/\/\S+)/); if (m) { clearTimeout(timer); ok(m[1].replace(/\/$/, '')); } });
    proc.on('exit', code => fail(new Error(`${name} exited with ${code}: ${log}`)));
  });
  return { proc, url };
}
const exited = proc => new Promise(ok => (proc.exitCode !== null ? ok(proc.exitCode) : proc.on('exit', c => ok(c))));
writeFileSync(join(out, 'rules.json'), JSON.stringify({ tiers: ['small', 'large'], models: ['canonical', 'canonical'], tokenizer: routingVocab, version: 0 }));
const dashboardServer = startServer(['dashboard', '--port', '0', '--store', join(out, 'store.sqlite'), '--rules', join(out, 'rules.json'), '--offline'], 'lcte dashboard');
const server = dashboardServer.proc;
const base = await dashboardServer.url;
console.log(`server at ${base}`);

if ((await (await fetch(`${base}/`)).text()).includes('assets not built')) {
  server.kill('SIGTERM');
  skip('the dashboard assets were not built (LCTE_WEB_ASSETS=OFF, or no node/npm at build time)');
}
// A script's session: the cookie /api/session sets on a loopback server without a token.
const sessionCookie = (await fetch(`${base}/api/session`)).headers.get('set-cookie').split(';')[0];
const writeHeaders = { Cookie: sessionCookie, 'Content-Type': 'application/json' };
async function routeApi(query) {
  const r = await fetch(`${base}/api/route`, { method: 'POST', headers: writeHeaders, body: JSON.stringify({ query }) });
  return r.json();
}

// axe-core on the page as it is now: WCAG 2.1 A and AA rules. The script is
// evaluated through the debugging protocol, which the page's CSP does not cover.
const a11yFindings = [];
async function a11y(page, name) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
    .then(x => x.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, target: v.nodes[0]?.target?.join(' '), help: v.help }))));
  for (const v of r) a11yFindings.push(`${name}: ${v.id} (${v.impact}, ${v.nodes} nodes, e.g. ${v.target}): ${v.help}`);
  check(r.length === 0, `axe-core: no WCAG 2.1 A/AA violations on ${name}${r.length ? ': ' + r.map(v => v.id).join(', ') : ''}`);
}

// The interactive tab on a model that streams: `lcte serve` with the tiny
// engine model. A MutationObserver sees every state the page passes through,
// so "text shown while the result is not" is observed, not raced for.
async function streamingCheck(browser) {
  if (!existsSync(tinyModel)) { console.log(`SKIP streaming check: data file absent: ${tinyModel}`); return; }
  const serve = startServer(['serve', '-m', tinyModel, '--port', '0', '-t', '1', '--ctx', '1024', '--store', join(out, 'serve-store.sqlite')], 'lcte serve');
  try {
    const url = await serve.url;
    const model = (await (await fetch(`${url}/api/info`)).json()).models.find(m => m !== 'canonical');
    const page = await browser.newPage({ viewport: { width: 1366, height: 820 } });
    const errors = [];
    page.on('pageerror', e => errors.push(String(e)));
    await page.goto(`${url}/#/try`);
    await page.waitForSelector('[data-view="try"][data-ready]', { timeout: 20000 });
    await page.waitForSelector('#conn.on', { timeout: 10000 });
    await page.click('[data-task="HumanEval/2"]');
    await page.waitForSelector('#try-form', { timeout: 10000 });
    await page.selectOption('#try-form select[name=model]', [model]);
    await page.fill('#try-form input[name=max_tokens]', '48');
    await page.evaluate(() => {
      const seen = window.streamSeen = { before: '', states: 0 };
      new MutationObserver(() => {
        const card = document.querySelector('#try-results .try-card');
        const pre = card?.querySelector('.try-stream');
        if (pre && !card.querySelector('.stats') && card.querySelector('.try-sample .muted')?.textContent === 'generating…' && pre.textContent.length > seen.before.length) {
          seen.before = pre.textContent; seen.states++;
        }
      }).observe(document.querySelector('#try-results'), { childList: true, subtree: true, characterData: true });
    });
    await page.click('#try-run');
    await page.waitForSelector('#try-results .try-card[data-done]', { timeout: 30000 });
    const seen = await page.evaluate(() => window.streamSeen);
    const final = await page.textContent('#try-results .try-card pre');
    check(seen.before.length > 0 && final.startsWith(seen.before),
      `${model}: streamed text shown before its result (${seen.states} partial states, ${seen.before.length} of ${final.length} characters)`);
    check((await page.textContent('#try-results .try-card')).includes('pass@1'), `${model}: result card with pass@1 after the stream`);
    check(errors.length === 0, `no page errors on the served model${errors.length ? ': ' + errors.join(' | ') : ''}`);
    await page.screenshot({ path: join(out, 'interactive-streamed.png'), fullPage: true });
    await page.close();
  } finally {
    serve.proc.kill('SIGTERM');
  }
  check(await exited(serve.proc) === 0, 'lcte serve stopped cleanly on SIGTERM');
}

// A dashboard with a token: the page asks for it, the session is an
// HttpOnly, SameSite=Strict cookie, and the token never reaches a URL or the
// page's scripts.
async function loginCheck(browser) {
  const secret = 'e2e-token-0123456789abcdef';
  const tokenFile = join(out, 'token');
  writeFileSync(tokenFile, secret + '\n', { mode: 0o600 });
  const guarded = startServer(['dashboard', '--port', '0', '--store', join(out, 'guarded.sqlite'), '--offline', '--token-file', tokenFile], 'lcte dashboard --token-file');
  try {
    const url = await guarded.url;
    check((await fetch(`${url}/api/runs`)).status === 401, 'with a token, the API refuses a request without a session');
    const context = await browser.newContext({ viewport: { width: 1366, height: 820 } });
    const page = await context.newPage();
    await page.goto(`${url}/`);
    await page.waitForSelector('#login-form', { timeout: 10000 });
    await a11y(page, 'login');
    await page.fill('#login-token', 'wrong-token-0123456789');
    await page.click('#login-submit');
    await page.waitForSelector('#login-msg .error', { timeout: 10000 });
    check((await page.textContent('#login-msg')).includes('wrong token'), 'a wrong token is refused on the page');
    await page.fill('#login-token', secret);
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-view="runs"][data-ready]', { timeout: 10000 });
    const cookies = await context.cookies();
    check(cookies.length === 1 && cookies[0].httpOnly && cookies[0].sameSite === 'Strict' && !cookies[0].value.includes(secret),
      `the session is one HttpOnly, SameSite=Strict cookie (${cookies.map(c => `${c.name} httpOnly=${c.httpOnly} sameSite=${c.sameSite}`).join('; ')})`);
    check(await page.evaluate(() => document.cookie) === '', 'the page\'s scripts cannot read the session cookie');
    check(!page.url().includes(secret) && !(await page.content()).includes(secret), 'the token is in no URL and not in the page');
    await page.click('#logout');
    await page.waitForSelector('#login-form', { timeout: 10000 });
    check(true, 'logging out returns to the login');
    await context.close();
  } finally {
    guarded.proc.kill('SIGTERM');
  }
  check(await exited(guarded.proc) === 0, 'the guarded dashboard stopped cleanly on SIGTERM');
}

const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
try {
  const context = await browser.newContext({ viewport: { width: 1366, height: 820 }, acceptDownloads: true });
  const page = await context.newPage();
  const consoleErrors = [];
  // The invalid rule below is refused with HTTP 400 on purpose; the browser logs that.
  page.on('console', m => { if (m.type() === 'error' && !m.text().includes('status of 400')) consoleErrors.push(m.text()); });
  page.on('pageerror', e => consoleErrors.push(String(e)));
  const open = async (hash, view) => {
    await page.goto(`${base}/${hash}`);
    await page.waitForSelector(`[data-view="${view}"][data-ready]`, { timeout: 20000 });
  };
  const shot = name => page.screenshot({ path: join(out, `${name}.png`), fullPage: true });

  // Experiments, empty.
  await open('#/runs', 'runs');
  check((await page.textContent('#view')).includes('No runs in the store yet'), 'empty store explained on the Experiments tab');
  await shot('experiments-empty');
  await a11y(page, 'Experiments (empty)');

  // Live monitor: start a canonical evaluation (5 tasks x 2 samples) from the UI.
  await open('#/live', 'live');
  await page.waitForSelector('#conn.on', { timeout: 10000 });
  const points = () => page.evaluate(() => document.querySelector('#live-charts .chart').plot.data[0].length);
  check(await points() === 0, 'live progress chart starts empty');
  await page.fill('#start-form input[name=limit]', '5');
  await page.fill('#start-form input[name=n]', '2');
  await page.click('#start-eval');
  await page.waitForFunction(() => (document.querySelector('#live-samples')?.textContent ?? '0') !== '0', null, { timeout: 60000 });
  const early = await points();
  await page.waitForFunction(() => document.querySelector('#live-job-status')?.textContent === 'finished', null, { timeout: 90000 });
  const late = await points();
  check(early >= 1 && late === 10, `live chart updated from pushed events (${early} then ${late} points)`);
  check((await page.textContent('#live-done')) === '10/10', 'live monitor shows 10/10 samples');
  // GPU readings (the fake nvidia-smi: GPU 0 37% busy at 123.45 W, GPU 1 12%
  // with [N/A] power) reach the GPU charts under the recorder's names, one
  // line per GPU, and the "no GPU" note goes away.
  await page.waitForFunction(() => document.querySelector('#gpu-note')?.classList.contains('hidden'), null, { timeout: 10000 });
  const gpu = await page.evaluate(() => {
    const d = name => document.querySelector(`#live-charts [data-chart="${name}"]`).plot.data;
    const u = d('gpu-utilisation'), p = d('gpu-power');
    return { gpu0: u[1].filter(x => x !== null), gpu1: u[2].filter(x => x !== null), power: p[1].filter(x => x !== null), powerLines: p.length - 1 };
  });
  check(gpu.gpu0.length >= 1 && gpu.gpu0.every(x => Math.abs(x - 37) < 1e-9) && gpu.gpu1.every(x => Math.abs(x - 12) < 1e-9) &&
    gpu.power.every(x => Math.abs(x - 123.45) < 1e-9) && gpu.powerLines === 1,
    `live GPU charts have points (${gpu.gpu0.length}: GPU 0 ${gpu.gpu0[0]}%, GPU 1 ${gpu.gpu1[0]}%, power ${gpu.power[0]} W on ${gpu.powerLines} line) and the no-GPU note is hidden`);
  // The resource charts as the live monitor drew them from pushed readings, to
  // compare with the run page's, drawn from the store.
  const resourceCharts = sel => page.evaluate(sel => Object.fromEntries([...document.querySelectorAll(`${sel} [data-chart]`)]
    .map(f => [f.dataset.chart, { title: f.getAttribute('aria-label'), names: f.plot.series.slice(1).map(x => x.label), data: f.plot.data }])), sel);
  const liveResources = await resourceCharts('#live-charts');
  await shot('live-monitor');
  await a11y(page, 'Live monitor');
  await page.setViewportSize({ width: 2560, height: 1200 });
  await shot('live-monitor-wide');
  await page.setViewportSize({ width: 1366, height: 820 });

  // The run is in the store; its page has charts and a samples table.
  await open('#/runs', 'runs');
  const rows = await page.$$('#runs-table tbody tr');
  check(rows.length === 1, `one run listed (${rows.length})`);
  const runId = await rows[0].getAttribute('data-run');
  await page.click(`#runs-table a[href="#/run/${runId}"]`);
  await page.waitForSelector('[data-view="run"][data-ready]', { timeout: 20000 });
  const charts = await page.$$eval('#run-charts .uplot, #run-charts svg', els => els.length);
  check(charts >= 3, `run page draws charts (${charts})`);
  check((await page.textContent('#run-charts')).includes('GPU utilisation'), 'run page charts the stored GPU utilisation');
  // A chart fed live and a chart fed from the store show the same series.
  const storedResources = await resourceCharts('#run-charts');
  const keys = Object.keys(liveResources).sort();
  check(keys.join() === 'cpu,energy,gpu-power,gpu-utilisation,memory' && keys.join() === Object.keys(storedResources).sort().join() &&
    keys.every(k => JSON.stringify(liveResources[k]) === JSON.stringify(storedResources[k])),
    `live and stored resource charts show the same series (${keys.map(k => `${k}: ${liveResources[k].data[0].length} vs ${storedResources[k]?.data[0].length} points`).join(', ')})`);
  check((await page.$$('#samples-table tbody tr')).length === 10, 'run page lists 10 samples');
  check((await page.textContent('#view')).includes('100.0%'), 'pass@1 of the reference solutions is 100%');
  await shot('run-page');
  await a11y(page, 'run page');
  // Every chart has its numbers as text: the pass@k bars' table says pass@1 = 1.
  const tables = await page.$$eval('#run-charts figure', fs => fs.map(f => ({ label: f.querySelector('svg, [aria-label]')?.getAttribute('aria-label') || f.getAttribute('aria-label'), rows: f.querySelectorAll('details.chart-data tbody tr').length })));
  check(tables.length >= 3 && tables.every(t => t.label && t.rows >= 1), `every chart has a label and a data table (${JSON.stringify(tables)})`);
  check((await page.$$eval('#run-charts details.chart-data', ds => ds[0].textContent)).match(/pass@1\s*1\b/) !== null, 'the pass@k chart\'s table reads pass@1 1');
  // A sample row by keyboard: its task cell is a button; Space shows the completion.
  await page.focus('#samples-table tbody tr:first-child button.linkish');
  await page.keyboard.press('Space');
  await page.waitForSelector('#sample-detail:not(.hidden)', { timeout: 5000 });
  check((await page.textContent('#sample-detail')).startsWith('HumanEval/'), 'a sample opens from the keyboard');

  // CSV download of the samples.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#samples-csv')]);
  const csvPath = join(out, 'samples.csv');
  await download.saveAs(csvPath);
  const lines = readFileSync(csvPath, 'utf8').trim().split('\n');
  const header = lines[0].split(',');
  check(header[1] === 'task_id' && header[5] === 'status', `CSV header ${lines[0].slice(0, 60)}...`);
  const dataRows = lines.slice(1).filter(l => /^humaneval,HumanEval\/\d+,/.test(l));
  check(dataRows.length === 10, `CSV has 10 sample rows (${dataRows.length})`);
  check(dataRows.every(l => l.split(',')[5] === 'passed'), 'every CSV row passed');
  check(new Set(dataRows.map(l => l.split(',')[1])).size === 5, 'CSV covers 5 tasks');

  // A second run (one sample per task), started through the API, to compare with.
  const second = await (await fetch(`${base}/api/evals`, { method: 'POST', headers: writeHeaders,
    body: JSON.stringify({ suite: 'humaneval', models: ['canonical'], n: 1, limit: 5 }) })).json();
  for (let i = 0; i < 600; i++) {
    const jobs = await (await fetch(`${base}/api/evals`)).json();
    if (jobs.find(j => j.id === second.id)?.status !== 'running') break;
    await new Promise(ok => setTimeout(ok, 100));
  }
  await open('#/runs', 'runs');
  // Sorting by keyboard: the header is a button that says its order.
  await page.focus('#runs-table th[data-col="model"] button');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#runs-table th[data-col="model"][aria-sort="descending"]', { timeout: 5000 });
  await page.keyboard.press('Enter');
  await page.waitForSelector('#runs-table th[data-col="model"][aria-sort="ascending"]', { timeout: 5000 });
  check(await page.evaluate(() => document.activeElement?.closest('th')?.dataset.col) === 'model', 'sortable headers work from the keyboard and keep the focus');
  await a11y(page, 'Experiments (two runs)');
  const boxes = await page.$$('#runs-table tbody input[type=checkbox]');
  check(boxes.length === 2, `two runs listed (${boxes.length})`);
  for (const b of boxes) await b.check();
  await page.click('#compare-selected');
  await page.waitForSelector('[data-view="compare"][data-ready]', { timeout: 20000 });
  const gridRows = await page.$$eval('#grid-table tbody tr', trs => trs.map(tr => tr.querySelectorAll('td.cell-pass').length));
  check(gridRows.length === 5 && gridRows.every(n => n === 2), `per-problem grid: 5 problems passed by both runs (${JSON.stringify(gridRows)})`);
  check((await page.$$('[data-view="compare"] svg')).length >= 2, 'accuracy-cost scatter and pass@k bars drawn');
  check((await page.textContent('#compare-table')).includes('yes'), 'Pareto column marks a run');
  await shot('compare');
  await a11y(page, 'Compare');

  // Routing: a rule changed in the UI takes effect on the next API request.
  const before = await routeApi('def f(x):\n    return x');
  check(before.tier === 'small' && before.override === false, `before: routed to ${before.tier}`);
  await open('#/routing', 'routing');
  await page.selectOption('#rules-form select[name=forced_tier]', 'large');
  await page.click('#save-rules');
  await page.waitForSelector('#rules-msg .pass', { timeout: 10000 });
  const after = await routeApi('def f(x):\n    return x');
  check(after.tier === 'large' && after.override === true && after.rules_version === 1, `after: routed to ${after.tier} (forced, rules v${after.rules_version})`);
  await page.fill('#rules-form input[name=max_score]', '6,9');
  await page.click('#save-rules');
  await page.waitForSelector('#rules-msg .error', { timeout: 10000 });
  check((await page.textContent('#rules-msg')).includes('max_score[1]'), 'invalid rule rejected, naming the field');
  await page.waitForFunction(() => document.querySelectorAll('#decision-log tbody tr').length >= 2, null, { timeout: 10000 });
  check(true, 'decision log shows the API requests');
  await page.fill('#route-query', 'a b c');
  await page.click('#route-btn');
  await page.waitForSelector('#route-result p', { timeout: 10000 });
  check((await page.textContent('#route-result')).includes('large'), 'routing a query in the UI uses the forced tier');
  await page.click('#curve-draw');
  await page.waitForSelector('#curve svg', { timeout: 20000 });
  check((await page.textContent('#curve')).includes('APGR'), 'cost-quality curve drawn from the two stored runs');
  await shot('routing');
  await a11y(page, 'Routing');

  // Interactive: one problem (picked by keyboard), router's choice.
  await open('#/try', 'try');
  await page.waitForSelector('[data-task="HumanEval/0"]', { timeout: 10000 });
  await page.focus('[data-task="HumanEval/0"]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#route-preview', { timeout: 10000 });
  check((await page.textContent('#route-preview')).includes('complexity score'), 'problem shows the router preview');
  await page.selectOption('#try-form select[name=model]', ['auto', 'canonical']);  // side by side
  await page.click('#try-run');
  await page.waitForFunction(() => [...document.querySelectorAll('#try-results .card')].filter(c => c.textContent.includes('pass@1')).length === 2, null, { timeout: 30000 });
  const cards = await page.$$eval('#try-results .card h2', hs => hs.map(x => x.textContent));
  check(cards.length === 2 && cards[0].startsWith('auto → '), `interactive run on two models side by side (${cards.join(' | ')})`);
  check((await page.$$('#try-results .pass')).length === 2, 'both samples passed');
  await shot('interactive');
  await a11y(page, 'Interactive');
  await streamingCheck(browser);

  await open('#/about', 'about');
  check((await page.textContent('#view')).includes('pass@k'), 'About explains pass@k');
  await shot('about');
  await a11y(page, 'About');
  await loginCheck(browser);
  check(consoleErrors.length === 0, `no console errors${consoleErrors.length ? ': ' + consoleErrors.join(' | ') : ''}`);
  if (a11yFindings.length) console.log('axe-core findings:\n  ' + a11yFindings.join('\n  '));
} finally {
  await browser.close();
  server.kill('SIGTERM');
}
const code = await exited(server);
check(code === 0, `lcte dashboard stopped cleanly on SIGTERM (${code})`);
console.log(`${failures ? 'FAILED' : 'passed'} in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${out}`);
process.exit(failures ? 1 : 0);
