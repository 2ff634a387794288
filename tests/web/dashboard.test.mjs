// dashboard.test.mjs — the dashboard in Debian's Chromium (headless) through
// playwright-core, against a real freightd serving web/dist (make web-test).
//
// A small national dataset is generated and imported, a few trips are booked
// and delivered through the API (so empty running and time to match have
// numbers), and the page is loaded with every request outside the server
// refused: it must draw the outline of China and one point per city the
// public aggregate lists, show the same numbers as GET /v1/public/dashboard in
// its cards, tables and charts, follow a change live, and log no console error
// nor fail a request.  The screenshot goes to build/artifacts/dashboard.png.
//
//   FREIGHTD_BIN=bin/freightd FREIGHT_BIN=bin/freight node --test tests/web/dashboard.test.mjs
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(join(root, 'web/package.json'));
const { chromium } = require('playwright-core');

const FREIGHTD = process.env.FREIGHTD_BIN || join(root, 'bin/freightd');
const FREIGHT = process.env.FREIGHT_BIN || join(root, 'bin/freight');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const WEB_DIR = join(root, 'web/dist');
const ARTIFACTS = join(root, 'build/artifacts');
const K = 2;

const work = mkdtempSync(join(tmpdir(), 'freightnet-web-'));
let server;
after(() => {
  if (server && server.exitCode === null) server.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

function startServer(dataDir) {
  return new Promise((ok, fail) => {
    const p = spawn(FREIGHTD, ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--web-dir', WEB_DIR,
      '--opendata-min-k', String(K), '--rate-limit', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    const timer = setTimeout(() => fail(new Error('freightd not ready in 10 s\n' + err)), 10000);
    p.stdout.on('data', (b) => {
      out += b;
      const m = /freightd ready: .*\(port (\d+)\)/.exec(out);
      if (m) { clearTimeout(timer); ok({ proc: p, base: `http://127.0.0.1:${m[1]}` }); }
    });
    p.stderr.on('data', (b) => { err += b; });
    p.on('exit', (code) => { clearTimeout(timer); fail(new Error(`freightd exited ${code}\n${err}`)); });
  });
}

async function api(base, method, path, token, body) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body) headers['Content-Type'] = 'application/json';
  const r = await fetch(base + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  return { status: r.status, body: await r.json() };
}

// As the page formats them (web/src/main.js).
const fmtInt = (n) => (n == null ? '—' : Math.round(n).toLocaleString('en-US'));
const fmtPct = (r) => (r == null ? '—' : (r * 100).toFixed(1) + '%');
const fmtPrice = (p) => (p == null ? '—' : '¥' + p.toFixed(2));

test('the dashboard renders the map and the charts with the server\'s numbers', { timeout: 60000 }, async () => {
  assert.ok(existsSync(join(WEB_DIR, 'index.html')), 'web/dist is not built: run make web');
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run scripts/deps.sh`);
  const ds = join(work, 'dataset'), dataDir = join(work, 'data');
  execFileSync(FREIGHT, ['gen', '--scale', '0.002', '--seed', '1', '--out', ds], { stdio: 'ignore' });
  execFileSync(FREIGHT, ['import', '--data-dir', dataDir, ds], { stdio: 'ignore' });
  const s = await startServer(dataDir);
  server = s.proc;
  const tokens = JSON.parse(readFileSync(join(dataDir, 'bench-tokens.json'), 'utf8'));

  // A few trips: each driver books its best load, picks it up and delivers it.
  let trips = 0;
  for (const d of tokens.drivers.slice(0, 40)) {
    const m = await api(s.base, 'GET', `/v1/drivers/${d.id}/loads?limit=3`, d.token);
    if (m.status !== 200 || !m.body.loads.length) continue;
    const b = await api(s.base, 'POST', `/v1/loads/${m.body.loads[0].load.id}/book`, d.token);
    if (b.status !== 200 && b.status !== 201) continue;
    assert.equal((await api(s.base, 'POST', `/v1/bookings/${b.body.id}/pickup`, d.token)).status, 200);
    assert.equal((await api(s.base, 'POST', `/v1/bookings/${b.body.id}/deliver`, d.token)).status, 200);
    trips++;
  }
  assert.ok(trips >= 10, `only ${trips} trips`);

  const want = (await api(s.base, 'GET', '/v1/public/dashboard')).body;
  assert.ok(want.cities.length > 50 && want.lanes.length > 0 && want.empty_running_rate != null);

  const profile = join(work, 'chromium-profile');
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1600, height: 1250 },
    locale: 'zh-CN',
  });
  try {
    const problems = [];
    const page = ctx.pages()[0] || (await ctx.newPage());
    // No internet: anything but the server is refused, and counts as a failure.
    await ctx.route('**/*', (route) => {
      const u = new URL(route.request().url());
      if (u.origin === s.base) return route.continue();
      problems.push('outside request: ' + u.href);
      return route.abort();
    });
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
    page.on('pageerror', (e) => problems.push('page error: ' + e.message));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });

    await page.goto(s.base + '/?refresh=1', { waitUntil: 'load' });
    await page.waitForFunction(() => Number(document.body.dataset.refreshes || 0) >= 1, null, { timeout: 10000 });

    // The map: Natural Earth's outline, and one point per listed city.
    const outline = await page.getAttribute('#china-outline', 'd');
    assert.ok(outline && outline.length > 5000, 'the outline of China is drawn');
    const nSupply = await page.locator('#city-points .supply circle').count();
    const nDemand = await page.locator('#city-points .demand circle').count();
    assert.equal(nSupply, want.cities.filter((c) => c.supply).length);
    assert.equal(nDemand, want.cities.filter((c) => c.demand).length);
    const shanghai = want.cities.find((c) => c.name === 'Shanghai');
    assert.equal(await page.getAttribute('#city-points .supply circle[data-city="Shanghai"]', 'data-supply'), String(shanghai.supply));
    // Points lie inside the map's box.
    const box = await page.evaluate(() => {
      const cs = [...document.querySelectorAll('#city-points circle')].map((c) => [+c.getAttribute('cx'), +c.getAttribute('cy')]);
      return cs.every(([x, y]) => x > 0 && x < 760 && y > 0 && y < 560);
    });
    assert.ok(box, 'every city point is on the map');

    // The cards.
    const kpi = (id) => page.textContent(`#${id} [data-value]`);
    assert.equal(await kpi('kpi-trucks'), fmtInt(want.trucks.total));
    assert.equal(await kpi('kpi-available'), fmtInt(want.trucks.available));
    assert.equal(await kpi('kpi-open'), fmtInt(want.loads.open));
    assert.equal(await kpi('kpi-empty'), fmtPct(want.empty_running_rate));
    assert.match(await kpi('kpi-ttm'), /^\d+(\.\d)? (s|min|h)$/);
    assert.match(await page.textContent('#kpi-empty [data-sub]'), new RegExp(`${fmtInt(want.trips_delivered)} trips`));

    // Provinces: every division, with its numbers.
    const rows = await page.$$eval('#provinces tbody tr', (trs) => trs.map((tr) => ({
      name: tr.dataset.province,
      supply: tr.querySelector('[data-col=supply]').textContent,
      demand: tr.querySelector('[data-col=demand]').textContent,
      label: tr.cells[0].textContent,
    })));
    assert.equal(rows.length, want.provinces.length);
    for (const p of want.provinces) {
      const r = rows.find((x) => x.name === p.name);
      assert.ok(r, p.name);
      assert.deepEqual([r.supply, r.demand, r.label], [fmtInt(p.supply), fmtInt(p.demand), `${p.name_zh} ${p.name}`]);
    }

    // Lanes: the price index and a trend line each.
    const lanes = await page.$$eval('#lanes tbody tr', (trs) => trs.map((tr) => ({
      lane: tr.dataset.lane,
      count: tr.querySelector('[data-col=count]').textContent,
      median: tr.querySelector('[data-col=median]').textContent,
      spark: tr.querySelectorAll('svg.spark circle').length,
    })));
    assert.deepEqual(lanes.map((l) => [l.lane, l.count, l.median]),
      want.lanes.map((l) => [`${l.origin}-${l.destination}`, fmtInt(l.count), fmtPrice(l.price_per_km.median)]));
    lanes.forEach((l, i) => assert.equal(l.spark, want.lanes[i].daily.filter((x) => x.median != null).length));

    // Charts: one point per day with a value, the latest in the legend.
    const pts = (id) => page.$$eval(`#${id} svg circle.pt`, (cs) => cs.map((c) => [c.dataset.day, +c.dataset.value]));
    assert.deepEqual(await pts('chart-empty'),
      want.daily.filter((x) => x.empty_running_rate != null).map((x) => [x.day, x.empty_running_rate]));
    const ttm = want.daily.filter((x) => x.time_to_match_median_s != null);
    assert.ok(ttm.length >= 1);
    assert.equal((await pts('chart-ttm')).length, ttm.length + want.daily.filter((x) => x.time_to_match_p90_s != null).length);
    const bars = await page.$$eval('#chart-loads rect.bar.posted', (rs) => rs.map((r) => [r.dataset.day, +r.dataset.value]));
    assert.deepEqual(bars, want.daily.filter((x) => x.posted).map((x) => [x.day, x.posted]));
    assert.equal(await page.textContent('#chart-loads [data-latest=booked]'), fmtInt(want.daily.at(-1).booked));

    // Live: a driver going offline shows within a refresh.
    let d;
    for (const x of [...tokens.drivers].reverse()) {
      const g = await api(s.base, 'GET', `/v1/drivers/${x.id}`, x.token);
      if (g.body.status === 'available') { d = x; break; }
    }
    const before = Number(await page.getAttribute('body', 'data-refreshes'));
    assert.equal((await api(s.base, 'PUT', `/v1/drivers/${d.id}/status`, d.token, { status: 'offline' })).status, 200);
    let now;
    for (let i = 0; i < 40; i++) { // the answer is rebuilt at most once a second
      now = (await api(s.base, 'GET', '/v1/public/dashboard')).body;
      if (now.trucks.offline !== want.trucks.offline) break;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    assert.equal(now.trucks.offline, want.trucks.offline + 1);
    await page.waitForFunction(([n, text]) => Number(document.body.dataset.refreshes) > n &&
      document.querySelector('#kpi-trucks [data-sub]').textContent.includes(text),
    [before, `离线 offline ${fmtInt(now.trucks.offline)}`], { timeout: 10000 });

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});
