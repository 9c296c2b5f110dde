// allocscope report viewer: plain JavaScript with no dependencies, so the page opens from disk
// without network or build step. `alloc-report html` inlines this file and embeds the profile as
// JSON in <script id="profile-data"> (shape: `ViewerData` in src/report/html.rs).
//
// Every figure shown carries `data-check="name"` and `data-value="raw number"`, so the browser
// test (tests/html_report.rs) can compare what the page shows with the profile. With the URL hash
// `#selftest` the page also drives itself (metric switch, a flamegraph click, table sort and
// filter) and writes what it saw as JSON into <pre id="selftest">.
'use strict';

const pageErrors = [];
window.addEventListener('error', (e) => pageErrors.push(String(e.message)));

// ---------------------------------------------------------------------------------------------
// Small helpers: DOM building (text always goes in as text nodes, never as HTML) and formats.

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(e, attrs);
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

function setAttrs(e, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.setAttribute('class', v);
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}

/** A shown figure: its text, plus the raw value for the browser test. */
function fig(tag, check, value, text, cls) {
  return el(tag, { class: cls, 'data-check': check, 'data-value': value, text });
}

function emptyNote(text) {
  return el('p', { class: 'empty', text });
}

const INTEGER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
const MINUS = '\u2212';

function fmtCount(n) {
  return INTEGER.format(n);
}

function fmtBytes(n) {
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < BYTE_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const s = u === 0 ? String(v) : v.toFixed(v < 10 ? 2 : 1);
  return (n < 0 ? MINUS : '') + s + ' ' + BYTE_UNITS[u];
}

function fmtMiB(n) {
  const v = Math.abs(n) / 1048576;
  return (n < 0 ? MINUS : '') + v.toFixed(v < 10 ? 2 : 1) + ' MiB';
}

function fmtPct(fraction) {
  const v = fraction * 100;
  return (v < 0 ? MINUS : '') + Math.abs(v).toFixed(1) + '%';
}

function fmtSecs(s) {
  if (s < 1) return (s * 1000).toFixed(1) + ' ms';
  return s.toFixed(2) + ' s';
}

function fmtNanos(ns) {
  if (ns < 1e3) return ns + ' ns';
  if (ns < 1e6) return (ns / 1e3).toFixed(1) + ' µs';
  if (ns < 1e9) return (ns / 1e6).toFixed(1) + ' ms';
  return (ns / 1e9).toFixed(2) + ' s';
}

function frameLocation(data, f) {
  const file = data.frames.file[f];
  if (!file) return '';
  const line = data.frames.line[f];
  return line === null || line === undefined ? file : file + ':' + line;
}

// ---------------------------------------------------------------------------------------------
// Header: who ran, how it was measured, the exact totals.

function samplingText(bytes) {
  if (bytes === 0) return 'off (no call stacks)';
  if (bytes === 1) return 'exact (every allocation)';
  return 'sampled, mean interval ' + fmtBytes(bytes);
}

function renderSummary(data) {
  const m = data.meta;
  const t = data.totals;
  document.getElementById('program').append(fig('span', 'meta.program', m.program, m.program));
  // `look`: 'wide' spans two columns in a lighter font, 'light' only takes the lighter font.
  const fact = (label, node, look) => {
    if (look) node.classList.add('light');
    return el('div', { class: look === 'wide' ? 'wide' : null }, el('dt', { text: label }), node);
  };
  const start = new Date(m.start_time_unix_ms);
  document.getElementById('meta').append(
    fact('Command line', fig('dd', 'meta.args', m.args.length, m.args.join(' ')), 'wide'),
    fact('Allocator', fig('dd', 'meta.allocator', m.allocator,
      m.allocator + (m.allocator_config ? ' (' + m.allocator_config + ')' : '')), m.allocator_config ? 'wide' : null),
    fact('Call stacks', fig('dd', 'meta.sampling_bytes', m.sampling_bytes, samplingText(m.sampling_bytes))),
    fact('Unwinder', el('dd', { text: m.unwinder })),
    fact('Duration', fig('dd', 'meta.duration_secs', m.duration_secs, fmtSecs(m.duration_secs))),
    fact('CPU time', fig('dd', 'meta.cpu_time_secs', m.cpu_time_secs, fmtSecs(m.cpu_time_secs))),
    fact('Started', el('dd', { text: isNaN(start) ? '?' : start.toISOString().replace('T', ' ').slice(0, 19) + ' UTC' }), 'light'),
    fact('Process', el('dd', { text: 'pid ' + m.pid + ', allocscope ' + m.allocscope_version }), 'light'),
  );
  const rssAtExit = data.gap ? data.gap.rss : null;
  const totals = [
    fact('Allocations', fig('dd', 'totals.allocs', t.allocs, fmtCount(t.allocs))),
    fact('Frees', fig('dd', 'totals.frees', t.frees, fmtCount(t.frees))),
    fact('Reallocs', fig('dd', 'totals.reallocs', t.reallocs, fmtCount(t.reallocs))),
    fact('Bytes allocated', fig('dd', 'totals.bytes_allocated', t.bytes_allocated, fmtBytes(t.bytes_allocated))),
    fact('Bytes freed', fig('dd', 'totals.bytes_freed', t.bytes_freed, fmtBytes(t.bytes_freed))),
    fact('Live at exit', fig('dd', 'totals.live_bytes', t.live_bytes,
      fmtBytes(t.live_bytes) + ' in ' + fmtCount(t.live_blocks) + ' blocks')),
    fact('Peak live (requested)', fig('dd', 'totals.peak_live_bytes', t.peak_live_bytes, fmtBytes(t.peak_live_bytes))),
    fact('Peak RSS', fig('dd', 'meta.peak_rss', m.peak_rss, fmtBytes(m.peak_rss))),
  ];
  if (rssAtExit !== null) totals.push(fact('RSS at exit', fig('dd', 'gap.rss', rssAtExit, fmtBytes(rssAtExit))));
  document.getElementById('totals').append(...totals);
  if (m.sampling_bytes > 1) {
    document.getElementById('summary').append(el('p', {
      class: 'hint',
      text: 'Totals and size classes are exact; call-site figures are estimates from sampled allocations.',
    }));
  }
}

// ---------------------------------------------------------------------------------------------
// The RSS gap: a stacked bar per moment, a legend with MiB and % of RSS, the diagnosis.

const GAP_TERMS = [
  { key: 'requested', name: 'Requested', color: '#2f6fdb', desc: 'live bytes the program asked for' },
  { key: 'size_class_rounding', name: 'Size-class rounding', color: '#86aef0', desc: 'usable − requested bytes of the live blocks' },
  { key: 'allocator_caches', name: 'Allocator caches', color: '#1b9e77', desc: "thread caches and jemalloc's internal allocations" },
  { key: 'fragmentation', name: 'Fragmentation', color: '#d95f02', desc: 'free space inside pages that hold live objects' },
  { key: 'dirty', name: 'Dirty pages', color: '#e7298a', desc: 'freed pages not yet returned to the OS' },
  { key: 'metadata', name: 'Allocator metadata', color: '#7570b3', desc: "jemalloc's bootstrap metadata" },
  { key: 'muzzy', name: 'Muzzy pages', color: '#a6761d', desc: "MADV_FREE'd pages the kernel has not reclaimed yet" },
  { key: 'profiler', name: 'allocscope (profiler)', color: '#66a61e', desc: "allocscope's own tables and caches: the cost of profiling, not the program's" },
  { key: 'untouched', name: 'Untouched (not in RSS)', color: '#d9d9d9', sign: -1, desc: 'pages of large blocks reserved but never touched: counted as requested, not resident, so subtracted' },
  { key: 'non_heap', name: 'Not heap', color: '#9a9a9a', desc: "code, thread stacks, C libraries' malloc, other mappings" },
];

/** What a term adds to RSS: its value, negated for `untouched` (the terms then sum to RSS). */
const contribution = (gap, t) => (t.sign || 1) * (gap[t.key] || 0);

// What each overhead term means for the program, in the words of the diagnosis.
const GAP_ADVICE = {
  size_class_rounding: 'is size-class rounding: requested sizes fall just above a size class (the size-class table shows which classes waste most)',
  allocator_caches: "is parked in the allocator's thread caches and internal allocations: many allocating threads, or bursts of same-size blocks",
  fragmentation: 'is free space inside partly used pages: many small objects freed in a scattered pattern, the survivors pinning their pages',
  dirty: 'is freed pages jemalloc has not returned yet: call allocscope::purge(), lower dirty_decay_ms via _RJEM_MALLOC_CONF, or enable background threads',
  metadata: "is jemalloc's own metadata, which grows with the number of arenas and extents",
  muzzy: 'is pages released with MADV_FREE that the kernel has not reclaimed yet; they go away under memory pressure (muzzy_decay_ms sets the delay)',
  profiler: "is allocscope's own memory (its call-site and live-block tables, its caches): the price of profiling, not the program's; sampled rather than exact mode shrinks it",
  non_heap: "is outside jemalloc's heap: code, thread stacks, C libraries' malloc and other mappings",
};

/** Sentences explaining a gap, the largest overhead first. */
function diagnose(gap) {
  if (!(gap.rss > 0)) return ['RSS was not measured, so the gap cannot be explained.'];
  const share = (k) => (gap[k] || 0) / gap.rss;
  const pct = (k) => Math.round(share(k) * 100) + '%';
  const big = Object.keys(GAP_ADVICE)
    .filter((k) => share(k) >= 0.1)
    .sort((a, b) => (gap[b] || 0) - (gap[a] || 0));
  const out = big.map((k, i) => pct(k) + (i === 0 ? ' of RSS ' : ' ') + GAP_ADVICE[k] + '.');
  if (share('requested') >= 0.5) {
    out.push(pct('requested') + ' of RSS is memory the program asked for and still holds: sort the call sites by “live at exit” to see who holds it.');
  }
  if (out.length === 0) {
    out.push('No overhead term reaches 10% of RSS: the allocator wastes little here; ' + pct('requested') + ' of RSS is requested memory.');
  }
  return out;
}

function gapBar(label, gap, check) {
  // The bar is RSS: every term that adds to it. Untouched pages are inside `requested` but
  // not resident; the hint under the bar says how much.
  const parts = GAP_TERMS.filter((t) => !t.sign);
  const positive = parts.reduce((s, t) => s + Math.max(0, gap[t.key] || 0), 0) || 1;
  const bar = el('div', { class: 'gapbar', role: 'img', 'aria-label': label });
  for (const t of parts) {
    const v = gap[t.key] || 0;
    if (v <= 0) continue;
    const text = t.name + ' ' + fmtMiB(v) + ' · ' + fmtPct(v / gap.rss);
    bar.append(el('div', {
      style: 'width:' + (100 * v / positive).toFixed(3) + '%;background:' + t.color,
      title: text + ' — ' + t.desc,
      'data-term': t.key,
      text,
    }));
  }
  const negatives = GAP_TERMS.filter((t) => !t.sign && gap[t.key] < 0).map((t) =>
    t.name + ' is ' + fmtMiB(gap[t.key]) + ": jemalloc's resident count includes pages never touched in blocks allocscope does not track (below 1 MiB), so the heap terms overshoot RSS by that much.");
  if (gap.untouched > 0) {
    negatives.push('Of the heap terms, ' + fmtMiB(gap.untouched) + ' are pages of large blocks that were reserved but never touched: the allocator counts them, the kernel does not, so they are subtracted.');
  }
  return el('div', { 'data-check': check },
    el('div', { class: 'gapbar-label' }, label + ': RSS ', fig('span', check + '.rss', gap.rss, fmtMiB(gap.rss))),
    bar,
    ...negatives.map((n) => el('p', { class: 'hint', text: n })));
}

function renderGap(data) {
  const body = document.querySelector('#gap .body');
  const moments = [];
  if (data.gap) moments.push({ label: 'At exit', gap: data.gap, check: 'gap' });
  if (data.gap_at_peak) moments.push({ label: 'At the peak of requested bytes', gap: data.gap_at_peak, check: 'gap_at_peak' });
  if (moments.length === 0) {
    body.append(emptyNote('No RSS breakdown: the allocator "' + data.meta.allocator +
      '" gives no statistics. Profile with allocscope::Jemalloc as the inner allocator to see where the RSS goes.'));
    return;
  }
  for (const m of moments) body.append(gapBar(m.label, m.gap, m.check));

  const head = el('tr', null, el('th', { text: 'Term' }), el('th', { text: 'What it is' }));
  for (const m of moments) head.append(el('th', { class: 'num', colspan: 2, text: m.label }));
  const rows = GAP_TERMS.map((t) => {
    const tr = el('tr', null,
      el('td', null, el('span', { class: 'swatch', style: 'background:' + t.color }), t.name),
      el('td', { class: 'desc', text: t.desc }));
    for (const m of moments) {
      const v = contribution(m.gap, t);
      tr.append(fig('td', m.check + '.' + t.key, v, fmtMiB(v), 'num'),
        fig('td', m.check + '.' + t.key + '.pct', v / m.gap.rss, fmtPct(v / m.gap.rss), 'num'));
    }
    return tr;
  });
  const total = el('tr', null, el('th', { text: 'RSS' }), el('th'));
  for (const m of moments) total.append(el('th', { class: 'num', text: fmtMiB(m.gap.rss) }), el('th', { class: 'num', text: '100.0%' }));
  body.append(el('table', { class: 'data' }, el('thead', null, head), el('tbody', null, ...rows), el('tfoot', null, total)));

  const sentences = Array.isArray(data.diagnosis) ? data.diagnosis : diagnose(moments[0].gap);
  body.append(el('ul', { class: 'diagnosis', 'data-check': 'diagnosis' },
    ...sentences.map((s) => el('li', { text: s }))));
}

// ---------------------------------------------------------------------------------------------
// Timeline: requested live bytes, allocator resident and RSS over the run, as an SVG line chart.

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

// ---------------------------------------------------------------------------------------------
// Size classes: counts and bytes per class, with the rounding waste, as bars in a table.

function renderSizes(data) {
  const body = document.querySelector('#sizes .body');
  const classes = data.size_classes;
  if (classes.length === 0) {
    body.append(emptyNote('No size classes: no allocation was counted.'));
    return;
  }
  let maxCount = 1, maxBytes = 1;
  const sum = { allocs: 0, requested_bytes: 0, usable_bytes: 0, live_blocks: 0, live_requested_bytes: 0 };
  for (const c of classes) {
    maxCount = Math.max(maxCount, c.allocs);
    maxBytes = Math.max(maxBytes, c.usable_bytes);
    for (const k in sum) sum[k] += c[k];
  }
  const barCell = (check, value, text, cls, fraction, waste) => {
    const td = el('td', { class: 'barcell num' });
    td.append(el('div', { class: 'bar ' + cls, style: 'width:calc((100% - 16px) * ' + fraction.toFixed(4) + ')' }));
    if (waste !== undefined) {
      td.append(el('div', { class: 'bar waste', style: 'left:calc(8px + (100% - 16px) * ' + (fraction - waste).toFixed(4) + ');width:calc((100% - 16px) * ' + waste.toFixed(4) + ')' }));
    }
    td.append(fig('span', check, value, text));
    return td;
  };
  const rows = classes.map((c) => {
    const waste = c.usable_bytes - c.requested_bytes;
    return el('tr', null,
      fig('td', 'sizes.' + c.size + '.size', c.size, fmtCount(c.size), 'num mono'),
      barCell('sizes.' + c.size + '.allocs', c.allocs, fmtCount(c.allocs), 'count', c.allocs / maxCount),
      barCell('sizes.' + c.size + '.requested_bytes', c.requested_bytes, fmtBytes(c.requested_bytes), 'bytes',
        c.usable_bytes / maxBytes, waste / maxBytes),
      fig('td', 'sizes.' + c.size + '.waste', waste, fmtBytes(waste), 'num'),
      fig('td', 'sizes.' + c.size + '.waste.pct', c.usable_bytes ? waste / c.usable_bytes : 0,
        fmtPct(c.usable_bytes ? waste / c.usable_bytes : 0), 'num'),
      fig('td', 'sizes.' + c.size + '.live_blocks', c.live_blocks, fmtCount(c.live_blocks), 'num'),
      fig('td', 'sizes.' + c.size + '.live_requested_bytes', c.live_requested_bytes, fmtBytes(c.live_requested_bytes), 'num'));
  });
  const totalWaste = sum.usable_bytes - sum.requested_bytes;
  body.append(
    el('div', { class: 'legend' },
      el('span', null, el('span', { class: 'swatch', style: 'background:#2f6fdb;opacity:.5' }), 'blocks'),
      el('span', null, el('span', { class: 'swatch', style: 'background:#1b9e77;opacity:.5' }), 'requested bytes'),
      el('span', null, el('span', { class: 'swatch', style: 'background:#d95f02;opacity:.5' }), 'rounding waste (usable − requested)')),
    el('table', { class: 'data' },
      el('thead', null, el('tr', null,
        el('th', { class: 'num', text: 'Class (bytes)' }), el('th', { class: 'num', text: 'Blocks' }),
        el('th', { class: 'num', text: 'Requested bytes' }), el('th', { class: 'num', text: 'Rounding waste' }),
        el('th', { class: 'num', text: 'Waste %' }), el('th', { class: 'num', text: 'Live blocks' }),
        el('th', { class: 'num', text: 'Live requested' }))),
      el('tbody', null, ...rows),
      el('tfoot', null, el('tr', null,
        el('th', { text: 'All ' + classes.length + ' classes' }),
        fig('th', 'sizes.total.allocs', sum.allocs, fmtCount(sum.allocs), 'num'),
        fig('th', 'sizes.total.requested_bytes', sum.requested_bytes, fmtBytes(sum.requested_bytes), 'num'),
        fig('th', 'sizes.total.waste', totalWaste, fmtBytes(totalWaste), 'num'),
        fig('th', 'sizes.total.waste.pct', sum.usable_bytes ? totalWaste / sum.usable_bytes : 0,
          fmtPct(sum.usable_bytes ? totalWaste / sum.usable_bytes : 0), 'num'),
        fig('th', 'sizes.total.live_blocks', sum.live_blocks, fmtCount(sum.live_blocks), 'num'),
        fig('th', 'sizes.total.live_requested_bytes', sum.live_requested_bytes, fmtBytes(sum.live_requested_bytes), 'num')))));
}

// ---------------------------------------------------------------------------------------------
// Call sites: a sortable, filterable table, one page of rows in the DOM at a time.

const PAGE_ROWS = 50;

function freedFastShare(s, i) {
  return s.freed[i] > 0 ? s.under_1ms[i] / s.freed[i] : -1;
}

const SITE_COLUMNS = [
  { key: 'allocs', name: 'Allocations', value: (s, i) => s.allocs[i], text: fmtCount },
  { key: 'bytes', name: 'Bytes', value: (s, i) => s.bytes[i], text: fmtBytes },
  { key: 'live_bytes', name: 'Live at exit', value: (s, i) => s.live_bytes[i], text: fmtBytes },
  { key: 'peak_bytes', name: 'At peak', value: (s, i) => s.peak_bytes[i], text: fmtBytes },
  { key: 'freed_1ms', name: 'Freed < 1 ms', value: freedFastShare, text: (v) => (v < 0 ? '—' : fmtPct(v)) },
  { key: 'slack_bytes', name: 'Slack', value: (s, i) => s.slack_bytes[i], text: fmtBytes },
];

function siteName(data, i) {
  const stack = data.sites.stack[i];
  return stack.length ? data.frames.function[stack[0]] : '(no frames)';
}

function renderSites(data) {
  const body = document.querySelector('#sites .body');
  const s = data.sites;
  const n = s.stack.length;
  if (n === 0) {
    body.append(emptyNote(data.meta.sampling_bytes === 0
      ? 'No call sites: stack capture was off for this run.'
      : 'No call sites: no allocation was sampled.'));
    return null;
  }
  const state = { key: 'bytes', asc: false, filter: '', page: 0, rows: null, selected: -1 };
  const filter = el('input', { type: 'search', placeholder: 'Filter by function or file…', 'aria-label': 'filter call sites' });
  const prev = el('button', { text: '‹ Previous' });
  const next = el('button', { text: 'Next ›' });
  const info = el('span', { class: 'hint', 'data-check': 'sites.info' });
  const tbody = el('tbody');
  const head = el('tr', null, el('th', { class: 'num', text: '#' }), el('th', { text: 'Allocating function' }));
  for (const c of SITE_COLUMNS) {
    head.append(el('th', { class: 'num', 'data-key': c.key, text: c.name, onclick: () => sortBy(c.key) }));
  }
  const details = el('div', { class: 'stack', hidden: true, 'data-check': 'sites.details' });
  body.append(el('div', { class: 'controls' }, filter, prev, next, info),
    el('div', { class: 'tablewrap' }, el('table', { class: 'data' }, el('thead', null, head), tbody)), details);

  function applyFilter() {
    const q = state.filter.trim().toLowerCase();
    let rows;
    if (!q) {
      rows = new Uint32Array(n);
      for (let i = 0; i < n; i++) rows[i] = i;
    } else {
      const fn = data.frames.function, file = data.frames.file;
      const hit = new Uint8Array(fn.length);
      for (let f = 0; f < fn.length; f++) {
        hit[f] = fn[f].toLowerCase().includes(q) || (file[f] !== null && file[f].toLowerCase().includes(q)) ? 1 : 0;
      }
      const kept = [];
      for (let i = 0; i < n; i++) if (s.stack[i].some((f) => hit[f])) kept.push(i);
      rows = Uint32Array.from(kept);
    }
    state.rows = rows;
    sortRows();
  }

  function sortRows() {
    const col = SITE_COLUMNS.find((c) => c.key === state.key);
    const keys = new Float64Array(n);
    for (const i of state.rows) keys[i] = col.value(s, i);
    const dir = state.asc ? 1 : -1;
    // Ties keep the profile's order (by bytes, descending).
    state.rows.sort((a, b) => dir * (keys[a] - keys[b]) || a - b);
    state.page = 0;
    renderPage();
  }

  function sortBy(key) {
    state.asc = state.key === key ? !state.asc : false;
    state.key = key;
    sortRows();
  }

  function renderPage() {
    const rows = state.rows;
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
    state.page = Math.min(Math.max(0, state.page), pages - 1);
    const from = state.page * PAGE_ROWS;
    const to = Math.min(rows.length, from + PAGE_ROWS);
    const trs = [];
    for (let r = from; r < to; r++) {
      const i = rows[r];
      const stack = s.stack[i];
      const loc = stack.length ? frameLocation(data, stack[0]) : '';
      const tr = el('tr', { 'data-site': i, class: i === state.selected ? 'selected' : null, onclick: () => showSite(i) },
        el('td', { class: 'num', text: String(r + 1) }),
        el('td', { class: 'site mono', title: stack.map((f) => data.frames.function[f]).join('\n') },
          fig('span', 'site.name', i, siteName(data, i)), loc ? el('span', { class: 'loc', text: loc }) : null));
      for (const c of SITE_COLUMNS) {
        const v = c.value(s, i);
        tr.append(fig('td', 'site.' + c.key, v, c.text(v), 'num'));
      }
      trs.push(tr);
    }
    tbody.replaceChildren(...trs);
    if (rows.length === 0) tbody.append(el('tr', null, el('td', { colspan: 2 + SITE_COLUMNS.length, class: 'empty', text: 'No call site matches the filter.' })));
    info.setAttribute('data-value', rows.length);
    info.textContent = rows.length === 0 ? '0 of ' + fmtCount(n) + ' call sites'
      : 'rows ' + fmtCount(from + 1) + '–' + fmtCount(to) + ' of ' + fmtCount(rows.length) +
        (rows.length < n ? ' (filtered from ' + fmtCount(n) + ')' : '') + ' call sites';
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    for (const th of head.querySelectorAll('th[data-key]')) {
      th.classList.toggle('sorted', th.dataset.key === state.key);
      th.classList.toggle('asc', th.dataset.key === state.key && state.asc);
    }
  }

  function showSite(i) {
    state.selected = i;
    for (const tr of tbody.querySelectorAll('tr')) tr.classList.toggle('selected', +tr.dataset.site === i);
    const lt = [];
    if (s.freed[i] > 0) {
      lt.push(fmtCount(s.freed[i]) + ' freed: ' + fmtPct(s.under_1us[i] / s.freed[i]) + ' within 1 µs, ' +
        fmtPct(s.under_1ms[i] / s.freed[i]) + ' within 1 ms, ' + fmtPct(s.under_1s[i] / s.freed[i]) + ' within 1 s' +
        (s.median_ns[i] === null ? '' : ', median lifetime ' + fmtNanos(s.median_ns[i])));
    } else {
      lt.push('none freed');
    }
    const classes = s.size_classes[i].map(([size, count]) => fmtCount(count) + ' × ' + fmtCount(size) + ' B').join(', ');
    details.replaceChildren(
      el('div', null, el('b', { text: 'Call site ' + (i + 1) + ': ' }),
        fmtCount(s.samples[i]) + ' samples; ' + fmtCount(s.live_blocks[i]) + ' blocks live at exit; ' + lt.join('')),
      el('div', { class: 'hint', text: 'Size classes: ' + (classes || 'none recorded') }),
      el('ol', null, ...s.stack[i].map((f) => el('li', { class: 'mono' },
        data.frames.function[f] + (data.frames.inlined[f] ? ' [inlined]' : ''),
        el('span', { class: 'loc', text: frameLocation(data, f) ? '  ' + frameLocation(data, f) : '' })))));
    details.hidden = false;
  }

  let pending = 0;
  filter.addEventListener('input', () => {
    clearTimeout(pending);
    pending = setTimeout(() => { state.filter = filter.value; applyFilter(); }, 150);
  });
  prev.addEventListener('click', () => { state.page--; renderPage(); });
  next.addEventListener('click', () => { state.page++; renderPage(); });
  applyFilter();
  return {
    sortBy,
    setFilter(q) { filter.value = q; state.filter = q; applyFilter(); },
    state,
    head,
    tbody,
    details,
  };
}

// ---------------------------------------------------------------------------------------------
// Flamegraph on a canvas. The call tree is built once (frames merged by function name); each
// metric sorts children lazily; only frames at least half a pixel wide are laid out.

const METRICS = [
  { key: 'allocs', name: 'Allocations', text: fmtCount, noun: 'allocations' },
  { key: 'bytes', name: 'Bytes', text: fmtBytes, noun: 'allocated' },
  { key: 'live_bytes', name: 'Live at exit', text: fmtBytes, noun: 'live at exit' },
  { key: 'peak_bytes', name: 'At peak', text: fmtBytes, noun: 'live at the peak' },
];
const ROW = 18;
const MIN_WIDTH_PX = 0.5;
// Browsers cap a canvas near 32,767 px: deeper frames than this are not drawn (zoom in).
const MAX_DEPTH = 1500;

function buildCallTree(data) {
  const fnames = data.frames.function;
  const nameIds = new Map();
  const names = ['all'];
  const frameName = new Uint32Array(fnames.length);
  for (let f = 0; f < fnames.length; f++) {
    let id = nameIds.get(fnames[f]);
    if (id === undefined) { id = names.length; names.push(fnames[f]); nameIds.set(fnames[f], id); }
    frameName[f] = id;
  }
  // Nodes are found by (parent, name) in an open-addressing hash table over typed arrays:
  // no object or Map entry per node, which keeps 100,000 stacks (a million nodes) fast.
  const stacks = data.sites.stack;
  const n = stacks.length;
  let capacity = 1;
  for (let i = 0; i < n; i++) capacity += stacks[i].length;
  const parent = new Int32Array(capacity), name = new Uint32Array(capacity), depth = new Uint32Array(capacity);
  let slots = 1;
  while (slots < 2 * capacity) slots *= 2;
  const mask = slots - 1;
  const table = new Int32Array(slots).fill(-1);
  // Each site's figures go to its own (deepest) node first, then flow up to the callers.
  const values = METRICS.map(() => new Float64Array(capacity));
  const columns = METRICS.map((m) => data.sites[m.key]);
  parent[0] = -1;
  let size = 1;
  for (let i = 0; i < n; i++) {
    const st = stacks[i];
    let node = 0;
    for (let k = st.length - 1; k >= 0; k--) { // outermost caller first
      const id = frameName[st[k]];
      let h = ((Math.imul(node, 0x9E3779B1) ^ Math.imul(id + 1, 0x85EBCA77)) >>> 7) & mask;
      let child = table[h];
      while (child !== -1 && (parent[child] !== node || name[child] !== id)) {
        h = (h + 1) & mask;
        child = table[h];
      }
      if (child === -1) {
        child = size++;
        parent[child] = node;
        name[child] = id;
        depth[child] = depth[node] + 1;
        table[h] = child;
      }
      node = child;
    }
    for (let m = 0; m < METRICS.length; m++) values[m][node] += columns[m][i];
  }
  // A node's id is larger than its parent's: one backward pass sums children into parents.
  for (let m = 0; m < METRICS.length; m++) {
    const v = values[m];
    for (let c = size - 1; c > 0; c--) v[parent[c]] += v[c];
  }
  // Children of node p are children[start[p] .. start[p + 1]].
  const start = new Uint32Array(size + 1);
  for (let c = 1; c < size; c++) start[parent[c] + 1]++;
  for (let p = 0; p < size; p++) start[p + 1] += start[p];
  const fill = start.slice(0, size);
  const children = new Uint32Array(Math.max(0, size - 1));
  for (let c = 1; c < size; c++) children[fill[parent[c]]++] = c;
  return {
    names, parent: parent.subarray(0, size), name: name.subarray(0, size), depth: depth.subarray(0, size),
    values: values.map((v) => v.subarray(0, size)), start, children, sorted: [], size,
  };
}

/** Children arrays sorted by the metric's value, descending; computed on first use. */
function childrenByMetric(tree, m) {
  if (!tree.sorted[m]) {
    const out = tree.children.slice();
    const v = tree.values[m];
    for (let p = 0; p < tree.size; p++) {
      const a = tree.start[p], b = tree.start[p + 1];
      if (b - a > 1) out.subarray(a, b).sort((x, y) => v[y] - v[x]);
    }
    tree.sorted[m] = out;
  }
  return tree.sorted[m];
}

function frameColor(name) {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  h >>>= 0;
  return 'hsl(' + (95 + (h % 70)) + ',' + (38 + ((h >> 8) % 22)) + '%,' + (56 + ((h >> 16) % 14)) + '%)';
}

function renderFlame(data) {
  const body = document.querySelector('#flame .body');
  if (data.sites.stack.length === 0) {
    body.append(emptyNote(data.meta.sampling_bytes === 0
      ? 'No flamegraph: stack capture was off for this run.'
      : 'No flamegraph: no allocation was sampled.'));
    return null;
  }
  const state = { metric: 1, focus: 0, query: '', rects: null, tree: null, match: null };
  const switchBar = el('div', { class: 'metric', role: 'group', 'aria-label': 'flamegraph metric' });
  const buttons = METRICS.map((m, i) => el('button', { 'data-metric': m.key, text: m.name, onclick: () => setMetric(i) }));
  switchBar.append(...buttons);
  const search = el('input', { type: 'search', placeholder: 'Search functions…', 'aria-label': 'search flamegraph' });
  const reset = el('button', { text: 'Reset zoom', onclick: () => zoom(0) });
  const canvas = el('canvas', { height: ROW });
  const status = el('div', { class: 'flame-status', 'data-check': 'flame.status' });
  const note = el('p', { class: 'empty', hidden: true });
  const tip = el('div', { class: 'tooltip', hidden: true });
  body.append(el('div', { class: 'controls' }, switchBar, search, reset), note, canvas, status, tip);

  function tree() {
    if (!state.tree) state.tree = buildCallTree(data);
    return state.tree;
  }

  function value(node) {
    return tree().values[state.metric][node];
  }

  function describe(node) {
    const t = tree();
    const m = METRICS[state.metric];
    return t.names[t.name[node]] + ': ' + m.text(value(node)) + ' ' + m.noun +
      ' (' + fmtPct(value(node) / (value(0) || 1)) + ' of all)';
  }

  function layout(width) {
    const t = tree();
    const order = childrenByMetric(t, state.metric);
    const v = t.values[state.metric];
    // rest[r] > 0 marks a block standing for that many callees of node[r], each too narrow to draw.
    const rects = { node: [], x: [], w: [], depth: [], rest: [] };
    const push = (node, x, w, rest) => {
      rects.node.push(node); rects.x.push(x); rects.w.push(w);
      rects.depth.push(t.depth[node] + (rest ? 1 : 0)); rects.rest.push(rest);
    };
    // The focused frame's callers span the whole width above it.
    for (let a = t.parent[state.focus]; a >= 0; a = t.parent[a]) push(a, 0, width, 0);
    const total = v[state.focus];
    if (total <= 0) return rects;
    const scale = width / total;
    const stack = [state.focus, 0];
    while (stack.length) {
      const x = stack.pop();
      const node = stack.pop();
      push(node, x, v[node] * scale, 0);
      if (t.depth[node] >= MAX_DEPTH) continue;
      let cx = x;
      let k = t.start[node];
      const end = t.start[node + 1];
      for (; k < end; k++) {
        const c = order[k];
        const w = v[c] * scale;
        if (w < MIN_WIDTH_PX) break; // sorted descending: the rest are narrower still
        stack.push(c, cx);
        cx += w;
      }
      let restWidth = 0;
      for (let j = k; j < end; j++) restWidth += v[order[j]] * scale;
      if (restWidth >= 1) push(node, cx, restWidth, end - k);
    }
    return rects;
  }

  function draw() {
    const t = tree();
    for (const [i, b] of buttons.entries()) b.classList.toggle('on', i === state.metric);
    const m = METRICS[state.metric];
    if (value(0) <= 0) {
      note.textContent = 'Nothing to show for “' + m.name + '”: it is zero at every call site.';
      note.hidden = false;
      canvas.hidden = true;
      state.rects = null;
      setStatus('flame.total', 0, m.name + ': nothing to show');
      return;
    }
    note.hidden = true;
    canvas.hidden = false;
    const width = canvas.clientWidth || 1200;
    const rects = layout(width);
    let maxDepth = 0;
    for (const d of rects.depth) maxDepth = Math.max(maxDepth, d);
    const dpr = window.devicePixelRatio || 1;
    const height = (maxDepth + 1) * ROW;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.height = height + 'px';
    const ctx = canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '12px ui-monospace, Menlo, Consolas, monospace';
    ctx.textBaseline = 'middle';
    const charW = ctx.measureText('m').width || 7;
    for (let r = 0; r < rects.node.length; r++) {
      const node = rects.node[r];
      const x = rects.x[r], w = rects.w[r], y = rects.depth[r] * ROW;
      const rest = rects.rest[r];
      const label = rest ? '+' + fmtCount(rest) + ' smaller' : t.names[t.name[node]];
      const ancestor = rects.depth[r] < t.depth[state.focus];
      ctx.fillStyle = rest ? '#c4c9d1' : state.match && state.match[t.name[node]] ? '#e040fb'
        : ancestor ? '#d7dbe2' : frameColor(label);
      ctx.fillRect(x, y, Math.max(w - 1, 0.5), ROW - 1);
      const fit = Math.floor((w - 6) / charW);
      if (fit >= 3) {
        ctx.fillStyle = '#1d2330';
        ctx.fillText(label.length <= fit ? label : label.slice(0, fit - 1) + '…', x + 3, y + ROW / 2);
      }
    }
    state.rects = rects;
    canvas.setAttribute('data-frames', rects.node.length);
    canvas.setAttribute('data-metric', m.key);
    const focus = state.focus === 0 ? null : t.names[t.name[state.focus]];
    const searchText = searchSummary();
    setStatus('flame.total', value(0), (focus ? 'Zoomed to ' + describe(state.focus) + '. ' : '') +
      'All call sites: ' + m.text(value(0)) + ' ' + m.noun + '; ' +
      fmtCount(rects.node.length) + ' frames drawn.' + (searchText ? ' ' + searchText : ''));
    status.setAttribute('data-focus', focus === null ? '' : focus);
    status.setAttribute('data-focus-value', value(state.focus));
  }

  function setStatus(check, v, text) {
    status.setAttribute('data-value', v);
    status.textContent = text;
  }

  function searchSummary() {
    if (!state.match) return '';
    // Sum matching frames without counting a match nested inside another match twice.
    const t = tree();
    const v = t.values[state.metric];
    let sum = 0, count = 0;
    const stack = [0];
    while (stack.length) {
      const node = stack.pop();
      if (node !== 0 && state.match[t.name[node]]) { sum += v[node]; count++; continue; }
      for (let k = t.start[node]; k < t.start[node + 1]; k++) stack.push(t.children[k]);
    }
    return 'Search “' + state.query + '”: ' + fmtCount(count) + ' frames, ' + fmtPct(sum / (v[0] || 1)) + ' of all.';
  }

  function setMetric(i) {
    state.metric = i;
    draw();
  }

  function zoom(node) {
    state.focus = node;
    draw();
  }

  /** The index of the drawn block under the mouse, or -1. */
  function hit(ev) {
    if (!state.rects) return -1;
    const r = canvas.getBoundingClientRect();
    const x = ev.clientX - r.left, depth = Math.floor((ev.clientY - r.top) / ROW);
    const rects = state.rects;
    for (let k = 0; k < rects.node.length; k++) {
      if (rects.depth[k] === depth && x >= rects.x[k] && x < rects.x[k] + rects.w[k]) return k;
    }
    return -1;
  }

  canvas.addEventListener('click', (ev) => {
    const k = hit(ev);
    if (k >= 0) zoom(state.rects.node[k]); // a "+N smaller" block zooms to their caller
  });
  canvas.addEventListener('mousemove', (ev) => {
    const k = hit(ev);
    if (k < 0) { tip.hidden = true; return; }
    const node = state.rects.node[k], rest = state.rects.rest[k];
    tip.textContent = rest
      ? fmtCount(rest) + ' callees of ' + tree().names[tree().name[node]] + ', each too narrow to draw: ' +
        METRICS[state.metric].text(state.rects.w[k] / canvas.clientWidth * value(state.focus)) + ' together'
      : describe(node);
    tip.hidden = false;
    tip.style.left = ev.clientX + 14 + 'px';
    tip.style.top = ev.clientY + 14 + 'px';
  });
  canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
  let pending = 0;
  search.addEventListener('input', () => {
    clearTimeout(pending);
    pending = setTimeout(() => setQuery(search.value), 150);
  });
  function setQuery(q) {
    state.query = q.trim();
    const needle = state.query.toLowerCase();
    state.match = needle ? Uint8Array.from(tree().names, (n, i) => (i > 0 && n.toLowerCase().includes(needle) ? 1 : 0)) : null;
    draw();
  }
  let resizeTimer = 0;
  window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(draw, 100); });

  draw();
  return {
    state, canvas, status, buttons, tree, draw,
    setQuery(q) { search.value = q; setQuery(q); },
  };
}

// ---------------------------------------------------------------------------------------------
// Self-test (URL hash #selftest): drive the page like a user and report what it showed.

function selfTest(data, sites, flame, timings) {
  const out = { errors: pageErrors, timings, sections: {}, checks: {}, actions: {} };
  for (const id of ['summary', 'gap', 'timeline', 'sizes', 'sites', 'flame']) {
    const sec = document.getElementById(id);
    const empty = sec.querySelector('.empty:not([hidden])');
    out.sections[id] = {
      empty: empty ? empty.textContent : null,
      figures: sec.querySelectorAll('[data-check]').length,
      height: Math.round(sec.getBoundingClientRect().height),
    };
  }
  // Figures outside the call-site table (its rows change with sorting; read below).
  for (const e of document.querySelectorAll('[data-check]')) {
    const key = e.getAttribute('data-check');
    if (key.startsWith('site.')) continue;
    out.checks[key] = { text: e.textContent, value: e.getAttribute('data-value') };
  }
  out.checks.diagnosis = document.querySelector('[data-check=diagnosis]')
    ? [...document.querySelectorAll('[data-check=diagnosis] li')].map((li) => li.textContent) : null;

  const row = (tr) => {
    const r = {};
    for (const td of tr.querySelectorAll('[data-check]')) r[td.getAttribute('data-check')] = { text: td.textContent, value: td.getAttribute('data-value') };
    return r;
  };
  if (sites) {
    const a = {};
    a.first_rows = [...sites.tbody.querySelectorAll('tr')].slice(0, 3).map(row);
    a.rows_in_dom = sites.tbody.querySelectorAll('tr').length;
    let clock = performance.now();
    sites.head.querySelector('th[data-key=allocs]').click();
    timings.sort_ms = performance.now() - clock;
    a.sorted_by_allocs = row(sites.tbody.querySelector('tr'));
    sites.head.querySelector('th[data-key=allocs]').click();
    a.sorted_by_allocs_asc = row(sites.tbody.querySelector('tr'));
    const needle = siteName(data, data.sites.stack.length - 1);
    clock = performance.now();
    sites.setFilter(needle);
    timings.filter_ms = performance.now() - clock;
    a.filter = { query: needle, info: document.querySelector('[data-check="sites.info"]').textContent,
      matches: +document.querySelector('[data-check="sites.info"]').getAttribute('data-value') };
    sites.setFilter('');
    sites.sortBy('bytes');
    sites.tbody.querySelector('tr').click();
    a.details = sites.details.hidden ? null : sites.details.textContent;
    out.actions.sites = a;
  }
  if (flame) {
    const a = {};
    const read = () => ({
      metric: flame.canvas.getAttribute('data-metric'),
      frames: +flame.canvas.getAttribute('data-frames'),
      status: flame.status.textContent,
      total: +flame.status.getAttribute('data-value'),
      focus: flame.status.getAttribute('data-focus'),
      focus_value: +flame.status.getAttribute('data-focus-value'),
    });
    a.initial = read();
    a.per_metric = {};
    timings.metric_ms = {};
    for (const b of flame.buttons) {
      const clock = performance.now();
      b.click();
      timings.metric_ms[b.getAttribute('data-metric')] = performance.now() - clock;
      a.per_metric[b.getAttribute('data-metric')] = read();
    }
    flame.buttons[0].click(); // allocations
    // Click the widest frame below the root, at its centre, through the canvas's own handler.
    const t = flame.tree();
    const rects = flame.state.rects;
    let best = -1;
    for (let k = 0; k < rects.node.length; k++) {
      if (rects.depth[k] === 1 && !rects.rest[k] && (best < 0 || rects.w[k] > rects.w[best])) best = k;
    }
    if (best >= 0) {
      const r = flame.canvas.getBoundingClientRect();
      const clientX = r.left + rects.x[best] + rects.w[best] / 2;
      const clientY = r.top + ROW * 1.5;
      a.clicked = t.names[t.name[rects.node[best]]];
      const clock = performance.now();
      flame.canvas.dispatchEvent(new MouseEvent('click', { clientX, clientY, bubbles: true }));
      timings.zoom_ms = performance.now() - clock;
      a.after_click = read();
      // Clicking the root bar (now an ancestor row) zooms back out.
      flame.canvas.dispatchEvent(new MouseEvent('click', { clientX: r.left + 5, clientY: r.top + ROW / 2, bubbles: true }));
      a.after_unzoom = read();
    }
    flame.setQuery(a.clicked || 'all');
    a.after_search = read();
    flame.setQuery('');
    flame.buttons[1].click(); // back to bytes for the screenshot
    out.actions.flame = a;
  }
  const pre = document.getElementById('selftest');
  pre.textContent = 'self-test: ' + pageErrors.length + ' errors\n' + JSON.stringify(out, null, 1);
  pre.hidden = false;
  document.body.prepend(pre); // on top, so a screenshot shows the outcome too
  pre.setAttribute('data-done', 'true');
}

// ---------------------------------------------------------------------------------------------

function loadData() {
  const node = document.getElementById('profile-data');
  const text = node ? node.textContent.trim() : '';
  if (!text) return null;
  const data = JSON.parse(text);
  if (data.format !== 'allocscope-viewer-data' || data.version !== 1) {
    throw new Error('unsupported embedded data: ' + data.format + ' version ' + data.version);
  }
  return data;
}

function main() {
  const t0 = performance.now();
  const data = loadData();
  if (!data) {
    document.getElementById('no-data').hidden = false;
    for (const s of document.querySelectorAll('section')) s.hidden = true;
    return;
  }
  document.title = data.title;
  renderSummary(data);
  renderGap(data);
  renderTimeline(data);
  renderSizes(data);
  const sites = renderSites(data);
  const timings = { before_flame_ms: performance.now() - t0 };
  // Let the top of the page paint before the call tree is built.
  setTimeout(() => {
    const t1 = performance.now();
    const flame = renderFlame(data);
    timings.flame_ms = performance.now() - t1;
    if (location.hash === '#selftest') {
      try {
        selfTest(data, sites, flame, timings);
      } catch (e) {
        pageErrors.push('self-test: ' + e.message);
        document.getElementById('selftest').textContent = JSON.stringify({ errors: pageErrors });
      }
    }
  }, 0);
}

main();
