// The Freightnet dashboard: one public, aggregate-only read
// (GET /v1/public/dashboard, docs/api.md) every few seconds, drawn as SVG.
// The server does the aggregation: the page gets at most one point per city
// (1,176), never a truck.
import { geoConicEqualArea, geoPath } from 'd3-geo';
import china from 'virtual:china-outline';
import './style.css';

const SVGNS = 'http://www.w3.org/2000/svg';
const params = new URLSearchParams(location.search);
const REFRESH_MS = Math.max(1000, Number(params.get('refresh') || 10) * 1000);

const fmtInt = (n) => (n == null ? '—' : Math.round(n).toLocaleString('en-US'));
const fmtPct = (r) => (r == null ? '—' : (r * 100).toFixed(1) + '%');
const fmtPrice = (p) => (p == null ? '—' : '¥' + p.toFixed(2));
function fmtDur(s) {
  if (s == null) return '—';
  if (s < 60) return s + ' s';
  if (s < 3600) return (s / 60).toFixed(1) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}

function el(tag, attrs = {}, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}
function h(tag, attrs = {}, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text != null) e.textContent = text;
  return e;
}

/* ---- the map ---- */

const MAP_W = 760, MAP_H = 560;
const projection = geoConicEqualArea().parallels([25, 47]).rotate([-105, 0]).fitExtent([[12, 12], [MAP_W - 12, MAP_H - 12]], china);
const path = geoPath(projection);
let mapSvg, pointsG;

function drawMap() {
  const box = document.getElementById('map');
  mapSvg = el('svg', { viewBox: `0 0 ${MAP_W} ${MAP_H}`, role: 'img', 'aria-label': '中国地图 Map of China' });
  const grat = el('g', { class: 'graticule' });
  for (let lon = 75; lon <= 135; lon += 10) grat.appendChild(el('path', { d: path({ type: 'LineString', coordinates: Array.from({ length: 41 }, (_, i) => [lon, 15 + i]) }) }));
  for (let lat = 20; lat <= 50; lat += 10) grat.appendChild(el('path', { d: path({ type: 'LineString', coordinates: Array.from({ length: 71 }, (_, i) => [70 + i, lat]) }) }));
  mapSvg.appendChild(grat);
  mapSvg.appendChild(el('path', { id: 'china-outline', class: 'outline', d: path(china) }));
  pointsG = el('g', { id: 'city-points' });
  mapSvg.appendChild(pointsG);
  box.appendChild(mapSvg);
}

function drawPoints(cities) {
  const tip = document.getElementById('map-tip');
  const max = Math.max(1, ...cities.map((c) => Math.max(c.supply || 0, c.demand || 0)));
  const r = (n) => (n ? 1.6 + 14 * Math.sqrt(n / max) : 0);
  pointsG.replaceChildren();
  // Biggest first, so small cities stay visible on top.
  const sorted = [...cities].sort((a, b) => (b.supply || 0) + (b.demand || 0) - (a.supply || 0) - (a.demand || 0));
  const supplyG = el('g', { class: 'supply' }), demandG = el('g', { class: 'demand' });
  for (const c of sorted) {
    const p = projection([c.lon, c.lat]);
    if (!p) continue;
    const label = `${c.name} · ${c.province_zh} ${c.province}\n空闲车辆 trucks: ${fmtInt(c.supply)}\n待运货源 loads: ${fmtInt(c.demand)}`;
    const attrs = { cx: p[0].toFixed(1), cy: p[1].toFixed(1), 'data-city': c.name };
    if (c.supply) {
      const s = el('circle', { ...attrs, r: r(c.supply).toFixed(2), 'data-supply': c.supply });
      s.appendChild(el('title', {}, label));
      supplyG.appendChild(s);
    }
    if (c.demand) {
      const d = el('circle', { ...attrs, r: r(c.demand).toFixed(2), 'data-demand': c.demand });
      d.appendChild(el('title', {}, label));
      demandG.appendChild(d);
    }
  }
  pointsG.append(supplyG, demandG);
  pointsG.onmousemove = (ev) => {
    const t = ev.target.closest('circle');
    if (!t) { tip.hidden = true; return; }
    tip.textContent = t.querySelector('title').textContent;
    tip.style.left = ev.offsetX + 14 + 'px';
    tip.style.top = ev.offsetY + 10 + 'px';
    tip.hidden = false;
  };
  pointsG.onmouseleave = () => { tip.hidden = true; };
  // The biggest cities get a name.
  const placed = [];
  for (const c of sorted) {
    if (placed.length === 8) break;
    const p = projection([c.lon, c.lat]);
    if (!p || placed.some((q) => Math.abs(q[0] - p[0]) < 70 && Math.abs(q[1] - p[1]) < 16)) continue;
    placed.push(p);
    pointsG.appendChild(el('text', { x: (p[0] + 6).toFixed(1), y: (p[1] - 6).toFixed(1), class: 'city-label' }, c.name));
  }
}

/* ---- charts ---- */

// A line chart of days x series; null values break the line.
function lineChart(box, days, series, fmt) {
  const W = 600, H = 150, L = 52, R = 22, T = 10, B = 24;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}` });
  const vals = series.flatMap((s) => s.values.filter((v) => v != null));
  const max = vals.length ? Math.max(...vals) * 1.1 || 1 : 1;
  const x = (i) => L + (days.length > 1 ? (i * (W - L - R)) / (days.length - 1) : (W - L - R) / 2);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  for (let g = 0; g <= 4; g++) {
    const v = (max * g) / 4;
    svg.appendChild(el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'gridline' }));
    if (vals.length) svg.appendChild(el('text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, fmt(v, true)));
  }
  days.forEach((d, i) => {
    if (i % 3 === (days.length - 1) % 3)
      svg.appendChild(el('text', { x: x(i), y: H - 6, class: 'axis', 'text-anchor': 'middle' }, d.slice(5)));
  });
  for (const s of series) {
    let dstr = '', pen = false;
    s.values.forEach((v, i) => {
      if (v == null) { pen = false; return; }
      dstr += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
      pen = true;
    });
    svg.appendChild(el('path', { d: dstr, class: 'line ' + s.cls }));
    s.values.forEach((v, i) => {
      if (v == null) return;
      const c = el('circle', { cx: x(i), cy: y(v), r: 3, class: 'pt ' + s.cls, 'data-day': days[i], 'data-value': v });
      c.appendChild(el('title', {}, `${days[i]} ${s.name}: ${fmt(v)}`));
      svg.appendChild(c);
    });
  }
  if (!vals.length) svg.appendChild(el('text', { x: W / 2, y: H / 2, class: 'empty', 'text-anchor': 'middle' }, '暂无数据 No data yet'));
  const legend = h('div', { class: 'chart-legend' });
  for (const s of series) {
    const last = [...s.values].reverse().find((v) => v != null);
    const item = h('span', { class: 'li ' + s.cls });
    item.append(h('i'), document.createTextNode(`${s.name}: `), h('b', { 'data-latest': s.key }, last == null ? '—' : fmt(last)));
    legend.appendChild(item);
  }
  box.replaceChildren(svg, legend);
}

function barChart(box, days, series) {
  const W = 600, H = 150, L = 52, R = 22, T = 10, B = 24;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}` });
  const max = Math.max(1, ...series.flatMap((s) => s.values)) * 1.1;
  const slot = (W - L - R) / days.length, bw = Math.max(2, (slot - 4) / series.length);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  for (let g = 0; g <= 4; g++) {
    const v = (max * g) / 4;
    svg.appendChild(el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'gridline' }));
    svg.appendChild(el('text', { x: L - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, fmtInt(v)));
  }
  days.forEach((d, i) => {
    series.forEach((s, j) => {
      const v = s.values[i];
      if (!v) return;
      const r = el('rect', { x: (L + i * slot + 2 + j * bw).toFixed(1), y: y(v).toFixed(1), width: (bw - 1).toFixed(1), height: (y(0) - y(v)).toFixed(1), class: 'bar ' + s.cls, 'data-day': d, 'data-value': v });
      r.appendChild(el('title', {}, `${d} ${s.name}: ${fmtInt(v)}`));
      svg.appendChild(r);
    });
    if (i % 3 === (days.length - 1) % 3)
      svg.appendChild(el('text', { x: L + i * slot + slot / 2, y: H - 6, class: 'axis', 'text-anchor': 'middle' }, d.slice(5)));
  });
  const legend = h('div', { class: 'chart-legend' });
  for (const s of series) {
    const item = h('span', { class: 'li ' + s.cls });
    item.append(h('i'), document.createTextNode(`${s.name}: `), h('b', { 'data-latest': s.key }, fmtInt(s.values[s.values.length - 1])));
    legend.appendChild(item);
  }
  box.replaceChildren(svg, legend);
}

function sparkline(daily) {
  const W = 120, H = 30;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'spark' });
  const vals = daily.map((d) => d.median);
  const known = vals.filter((v) => v != null);
  if (!known.length) return svg;
  const lo = Math.min(...known), hi = Math.max(...known), span = hi - lo || 1;
  const x = (i) => 3 + (i * (W - 6)) / Math.max(1, daily.length - 1);
  const y = (v) => H - 4 - ((v - lo) / span) * (H - 8);
  let dstr = '', pen = false;
  vals.forEach((v, i) => {
    if (v == null) { pen = false; return; }
    dstr += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1);
    pen = true;
  });
  svg.appendChild(el('path', { d: dstr, class: 'line price' }));
  vals.forEach((v, i) => { if (v != null) svg.appendChild(el('circle', { cx: x(i), cy: y(v), r: 2, class: 'pt price' })); });
  return svg;
}

/* ---- tables and cards ---- */

function setKpi(id, value, sub) {
  const k = document.getElementById(id);
  k.querySelector('[data-value]').textContent = value;
  k.querySelector('[data-sub]').textContent = sub;
}

function render(d) {
  const t = d.trucks, l = d.loads;
  setKpi('kpi-trucks', fmtInt(t.total), `在途 on trip ${fmtInt(t.on_trip)} · 离线 offline ${fmtInt(t.offline)}`);
  setKpi('kpi-available', fmtInt(t.available), t.total ? `占 ${fmtPct(t.available / t.total)} of all trucks` : '');
  setKpi('kpi-open', fmtInt(l.open), `已订 booked ${fmtInt(l.booked)} · 运输中 in transit ${fmtInt(l.in_transit)}`);
  setKpi('kpi-empty', fmtPct(d.empty_running_rate), `已送达 ${fmtInt(d.trips_delivered)} trips delivered`);
  setKpi('kpi-ttm', fmtDur(d.time_to_match_median_s), '中位数 median, 全部成交 all bookings');
  document.getElementById('k').textContent = d.k;

  drawPoints(d.cities);

  const provs = [...d.provinces].sort((a, b) => (b.supply || 0) + (b.demand || 0) - (a.supply || 0) - (a.demand || 0));
  const pmax = Math.max(1, ...provs.map((p) => Math.max(p.supply || 0, p.demand || 0)));
  const ptb = document.querySelector('#provinces tbody');
  ptb.replaceChildren(...provs.map((p) => {
    const tr = h('tr', { 'data-province': p.name });
    const name = h('td');
    name.append(h('span', { class: 'zh' }, p.name_zh), document.createTextNode(' ' + p.name));
    const bars = h('td', { class: 'bar-cell' });
    const b1 = h('div', { class: 'hbar supply' }), b2 = h('div', { class: 'hbar demand' });
    b1.style.width = (100 * (p.supply || 0)) / pmax + '%';
    b2.style.width = (100 * (p.demand || 0)) / pmax + '%';
    bars.append(b1, b2);
    tr.append(name, h('td', { class: 'n', 'data-col': 'supply' }, fmtInt(p.supply)), h('td', { class: 'n', 'data-col': 'demand' }, fmtInt(p.demand)),
      h('td', { class: 'n', 'data-col': 'ratio' }, p.ratio == null ? '—' : p.ratio.toFixed(2)), bars);
    return tr;
  }));
  document.getElementById('prov-note').textContent = `${d.provinces.length} 省级行政区 divisions`;

  const ltb = document.querySelector('#lanes tbody');
  if (!d.lanes.length) {
    const tr = h('tr');
    tr.appendChild(h('td', { colspan: 6, class: 'empty' }, '暂无足够数据 Not enough loads on closed days yet'));
    ltb.replaceChildren(tr);
  } else {
    ltb.replaceChildren(...d.lanes.map((ln, i) => {
      const tr = h('tr', { 'data-lane': `${ln.origin}-${ln.destination}` });
      const lane = h('td');
      lane.append(h('span', { class: 'zh' }, `${ln.origin_zh} → ${ln.destination_zh}`), h('span', { class: 'en' }, ` ${ln.origin} → ${ln.destination}`));
      const known = ln.daily.filter((x) => x.median != null);
      const trend = h('td', { class: 'trend' });
      trend.appendChild(sparkline(ln.daily));
      if (known.length >= 2) {
        const ch = (known[known.length - 1].median / known[0].median - 1) * 100;
        trend.appendChild(h('span', { class: ch >= 0 ? 'up' : 'down' }, (ch >= 0 ? '▲ ' : '▼ ') + Math.abs(ch).toFixed(1) + '%'));
      }
      tr.append(h('td', { class: 'rank' }, String(i + 1)), lane, h('td', { class: 'n', 'data-col': 'count' }, fmtInt(ln.count)),
        h('td', { class: 'n price', 'data-col': 'median' }, fmtPrice(ln.price_per_km.median)),
        h('td', { class: 'n muted', 'data-col': 'iqr' }, `${fmtPrice(ln.price_per_km.p25)}–${fmtPrice(ln.price_per_km.p75)}`), trend);
      return tr;
    }));
  }
  document.getElementById('lanes-note').textContent = `近 ${d.lanes_days} 个完整日 last ${d.lanes_days} closed days, 各车型合计 all truck types`;

  const days = d.daily.map((x) => x.day);
  lineChart(document.getElementById('chart-empty'), days,
    [{ key: 'empty_running_rate', name: '空驶率 empty-running', cls: 'empty-rate', values: d.daily.map((x) => x.empty_running_rate) }],
    (v, axis) => (axis ? (v * 100).toFixed(0) + '%' : fmtPct(v)));
  lineChart(document.getElementById('chart-ttm'), days,
    [{ key: 'time_to_match_median_s', name: '中位数 median', cls: 'ttm', values: d.daily.map((x) => x.time_to_match_median_s) },
     { key: 'time_to_match_p90_s', name: 'P90', cls: 'ttm90', values: d.daily.map((x) => x.time_to_match_p90_s) }],
    (v, axis) => fmtDur(axis ? Math.round(v) : v));
  barChart(document.getElementById('chart-loads'), days, [
    { key: 'posted', name: '发布 posted', cls: 'posted', values: d.daily.map((x) => x.posted) },
    { key: 'booked', name: '成交 booked', cls: 'booked', values: d.daily.map((x) => x.booked) },
    { key: 'delivered', name: '送达 delivered', cls: 'delivered', values: d.daily.map((x) => x.delivered) },
  ]);

  document.getElementById('as-of').textContent = '更新于 as of ' + new Date(d.as_of * 1000).toLocaleTimeString('zh-CN', { hour12: false });
  document.body.dataset.asOf = d.as_of;
}

/* ---- live refresh ---- */

let refreshes = 0;
async function refresh() {
  const dot = document.getElementById('live-dot'), txt = document.getElementById('live-text');
  try {
    const r = await fetch('/v1/public/dashboard', { cache: 'no-store' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    render(await r.json());
    refreshes++;
    document.body.dataset.refreshes = refreshes;
    dot.className = 'dot ok';
    txt.textContent = `实时 Live · 每 ${REFRESH_MS / 1000} 秒刷新 every ${REFRESH_MS / 1000} s`;
  } catch (e) {
    dot.className = 'dot bad';
    txt.textContent = '连接中断 Disconnected — retrying';
  }
  setTimeout(refresh, REFRESH_MS);
}

drawMap();
refresh();
