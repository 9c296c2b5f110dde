// timeline.js: requested live bytes, allocator resident and RSS over the run, as an SVG line
// chart.

const SERIES = [
  { key: 'live_bytes', name: 'Requested live bytes', color: '#2f6fdb' },
  { key: 'resident', name: 'Allocator resident', color: '#1b9e77' },
  { key: 'rss', name: 'RSS', color: '#d95f02' },
];

function niceStep(range, ticks) {
  const raw = range / ticks;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const f = raw / p;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

function niceByteStep(range, ticks) {
  // Steps of 1, 2 or 5 times a power of 1024 reads best with binary units.
  let unit = 1;
  while (range / unit > 1024 * ticks) unit *= 1024;
  return niceStep(range / unit, ticks) * unit;
}

function renderTimeline(data) {
  const body = document.querySelector('#timeline .body');
  const pts = data.timeline;
  if (pts.length === 0) {
    body.append(emptyNote('No timeline: the profile has no periodic snapshots (the run was shorter than the snapshot interval, or snapshots were off).'));
    return;
  }
  if (pts.length === 1) {
    // One point cannot make a line (its axis would span nothing: "0 s 1e-10 s …").
    body.append(emptyNote('No timeline: one snapshot only, taken at start-up (the run was shorter than the snapshot interval, ALLOCSCOPE_TIMELINE_MS).'));
    return;
  }
  const series = SERIES.filter((s) => pts.some((p) => p[s.key] !== null && p[s.key] !== undefined));
  const W = 1200, H = 300, L = 78, R = 16, T = 12, B = 34;
  const t0 = pts[0].t_secs;
  const t1 = Math.max(pts[pts.length - 1].t_secs, t0 + 1e-9);
  let ymax = 1;
  for (const p of pts) for (const s of series) if (p[s.key] > ymax) ymax = p[s.key];
  const ystep = niceByteStep(ymax, 5);
  ymax = Math.ceil(ymax / ystep) * ystep;
  const x = (t) => L + (W - L - R) * (t - t0) / (t1 - t0);
  const y = (v) => T + (H - T - B) * (1 - v / ymax);

  const chart = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: '100%', role: 'img', 'aria-label': 'memory over time' });
  const axis = svg('g', { class: 'axis' });
  for (let v = 0; v <= ymax + ystep / 2; v += ystep) {
    axis.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v) }),
      svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, fmtBytes(v)));
  }
  const tstep = niceStep(t1 - t0, 8);
  for (let t = Math.ceil(t0 / tstep) * tstep; t <= t1 + tstep / 1e6; t += tstep) {
    axis.append(svg('line', { x1: x(t), x2: x(t), y1: H - B, y2: H - B + 4 }),
      svg('text', { x: x(t), y: H - B + 17, 'text-anchor': 'middle' }, +t.toPrecision(6) + ' s'));
  }
  chart.append(axis);

  // More points than pixel columns: keep each column's lowest and highest point so spikes
  // stay visible.
  const columns = W - L - R;
  for (const s of series) {
    const coords = [];
    let col = -1, lo = null, hi = null;
    const flush = () => {
      if (lo) coords.push(lo);
      if (hi && hi !== lo) coords.push(hi);
    };
    for (const p of pts) {
      const v = p[s.key];
      if (v === null || v === undefined) continue;
      const pt = [x(p.t_secs), y(v)];
      if (pts.length <= columns) { coords.push(pt); continue; }
      if (Math.floor(pt[0]) !== col) { flush(); lo = hi = pt; col = Math.floor(pt[0]); }
      else if (pt[1] > lo[1]) lo = pt;
      else if (pt[1] < hi[1]) hi = pt;
    }
    flush();
    const points = coords.map(([px, py]) => px.toFixed(1) + ',' + py.toFixed(1)).join(' ');
    chart.append(svg('polyline', { points, fill: 'none', stroke: s.color, 'stroke-width': 2, 'data-series': s.key }));
    if (pts.length === 1) {
      chart.append(svg('circle', { cx: coords[0][0], cy: coords[0][1], r: 4, fill: s.color }));
    }
  }

  // Hover: a guide line and the values of the nearest snapshot.
  const guide = svg('line', { y1: T, y2: H - B, stroke: '#888', 'stroke-dasharray': '3 3', visibility: 'hidden' });
  chart.append(guide);
  const tip = el('div', { class: 'tooltip', hidden: true });
  chart.addEventListener('mousemove', (ev) => {
    const r = chart.getBoundingClientRect();
    const t = t0 + ((ev.clientX - r.left) * W / r.width - L) / (W - L - R) * (t1 - t0);
    let lo = 0, hi = pts.length - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (pts[mid].t_secs < t) lo = mid + 1; else hi = mid; }
    if (lo > 0 && Math.abs(pts[lo - 1].t_secs - t) < Math.abs(pts[lo].t_secs - t)) lo--;
    const p = pts[lo];
    guide.setAttribute('x1', x(p.t_secs));
    guide.setAttribute('x2', x(p.t_secs));
    guide.setAttribute('visibility', 'visible');
    tip.textContent = 't = ' + p.t_secs.toFixed(3) + ' s\n' +
      series.map((s) => s.name + ': ' + (p[s.key] === null ? '—' : fmtBytes(p[s.key]))).join('\n');
    tip.hidden = false;
    tip.style.left = ev.clientX + 14 + 'px';
    tip.style.top = ev.clientY + 14 + 'px';
  });
  chart.addEventListener('mouseleave', () => { tip.hidden = true; guide.setAttribute('visibility', 'hidden'); });

  const legend = el('div', { class: 'legend' });
  for (const s of series) {
    let max = 0;
    for (const p of pts) if (p[s.key] > max) max = p[s.key];
    legend.append(el('span', null, el('span', { class: 'swatch', style: 'background:' + s.color }),
      s.name + ', highest ', fig('b', 'timeline.max.' + s.key, max, fmtBytes(max))));
  }
  legend.append(el('span', null, fig('span', 'timeline.points', pts.length, fmtCount(pts.length)), ' snapshots'));
  body.append(legend, chart, tip);
  if (!series.some((s) => s.key === 'resident')) {
    body.append(el('p', { class: 'hint', text: 'The allocator gives no statistics, so its resident memory is not shown.' }));
  }
}
