// gap.js: the RSS gap, a stacked bar per moment, a table with MiB and % of RSS per term, the
// diagnosis, and RSS against the container's limit (`data.container`, worded by Rust's
// `container_sentence`). The words are Rust's: each term's label, description and verdict come from
// `GapTerm` (`data.gap_terms`), the diagnosis sentences from `GapBreakdown::diagnosis` or the
// caller (`data.diagnosis`); this file only chooses colours and lays them out.

const GAP_COLORS = {
  requested: '#2f6fdb',
  size_class_rounding: '#86aef0',
  allocator_caches: '#1b9e77',
  fragmentation: '#d95f02',
  dirty: '#e7298a',
  metadata: '#7570b3',
  muzzy: '#a6761d',
  profiler: '#66a61e',
  untouched: '#d9d9d9',
  non_heap: '#9a9a9a',
  free_and_cached: '#1b9e77',
};

/** The term's description and verdict, as one phrase. */
const termWords = (t) => t.description + ': ' + t.verdict;

function gapBar(terms, label, gap, check) {
  // The bar is RSS: every term that adds to it. Untouched pages are inside the heap terms but
  // not resident; the hint under the bar says how much.
  const parts = terms.filter((t) => t.sign > 0);
  const positive = parts.reduce((s, t) => s + Math.max(0, gap[t.key] || 0), 0) || 1;
  const bar = el('div', { class: 'gapbar', role: 'img', 'aria-label': label });
  for (const t of parts) {
    const v = gap[t.key] || 0;
    if (v <= 0) continue;
    const text = t.label + ' ' + fmtBytes(v, 'MiB') + ' · ' + fmtPct(v / gap.rss);
    bar.append(el('div', {
      style: 'width:' + (100 * v / positive).toFixed(3) + '%;background:' + GAP_COLORS[t.key],
      title: text + ' — ' + termWords(t),
      'data-term': t.key,
      text,
    }));
  }
  const notes = terms.filter((t) => t.sign < 0 && gap[t.key] > 0).map((t) =>
    t.label + ': ' + fmtBytes(gap[t.key], 'MiB') + ' of ' + t.description + ', subtracted from the heap terms.');
  return el('div', { 'data-check': check },
    el('div', { class: 'gapbar-label' }, label + ': RSS ', fig('span', check + '.rss', gap.rss, fmtBytes(gap.rss, 'MiB'))),
    bar,
    ...notes.map((n) => el('p', { class: 'hint', text: n })));
}

function renderGap(data) {
  const body = document.querySelector('#gap .body');
  if (data.container) {
    body.append(el('p', { class: 'container', 'data-check': 'container', text: 'Container (' + (data.cgroup_version || 'cgroup v2') + '): ' + data.container }));
  }
  const moments = [];
  if (data.gap) moments.push({ label: 'At exit', gap: data.gap, check: 'gap' });
  if (data.gap_at_peak) moments.push({ label: 'At the peak of requested bytes', gap: data.gap_at_peak, check: 'gap_at_peak' });
  // Over mimalloc: its own terms (the same words where the term is the same).
  let terms = data.gap_terms;
  if (moments.length === 0 && data.mimalloc_gap) {
    moments.push({ label: "At exit (mimalloc's statistics)", gap: data.mimalloc_gap, check: 'mimalloc_gap' });
    terms = data.mimalloc_gap_terms;
  }
  if (moments.length === 0) {
    body.append(emptyNote('No RSS breakdown: the allocator "' + data.meta.allocator +
      '" gives no statistics. Profile with allocscope::Jemalloc as the inner allocator to see where the RSS goes.'));
    const p = data.partial_gap;
    if (p) {
      // What can be known without the allocator's statistics (Rust's `PartialGap`):
      // allocscope's own memory is never left inside the program's figures.
      const rows = [
        ['RSS', 'rss', 'resident set size when the profile was written'],
        ['requested (live)', 'requested', 'live data the program asked for'],
        ['anonymous', 'anonymous', 'resident anonymous memory: heap, stacks, anonymous mappings'],
        ['of which allocscope (profiler)', 'profiler', "allocscope's own tables and caches"],
        ['less untouched (not resident)', 'untouched', 'requested pages of large blocks never faulted in'],
        ['file-backed', 'file_backed', 'code, libraries, mapped files'],
      ].filter((r) => p[r[1]] !== null && p[r[1]] !== undefined);
      body.append(el('table', { class: 'data', 'data-check': 'partial_gap' },
        el('tbody', null, ...rows.map((r) => el('tr', null,
          el('td', { text: r[0] }),
          el('td', { class: 'desc', text: r[2] }),
          fig('td', 'partial_gap.' + r[1], p[r[1]], fmtBytes(p[r[1]], 'MiB'), 'num'))))));
    }
    return;
  }
  for (const m of moments) body.append(gapBar(terms, m.label, m.gap, m.check));

  const head = el('tr', null, el('th', { text: 'Term' }), el('th', { text: 'What it is' }));
  for (const m of moments) head.append(el('th', { class: 'num', colspan: 2, text: m.label }));
  // Rows in Rust's table order: the terms that make up RSS, then `untouched` on a "less" row
  // (`row_label`), each with its value as stored (never shown with a minus sign).
  const rows = terms.map((t) => {
    const tr = el('tr', null,
      el('td', null, el('span', { class: 'swatch', style: 'background:' + GAP_COLORS[t.key] }), t.row_label),
      el('td', { class: 'desc', text: termWords(t) }));
    for (const m of moments) {
      const v = m.gap[t.key] || 0;
      tr.append(fig('td', m.check + '.' + t.key, v, fmtBytes(v, 'MiB'), 'num'),
        fig('td', m.check + '.' + t.key + '.pct', v / m.gap.rss, fmtPct(v / m.gap.rss), 'num'));
    }
    return tr;
  });
  const total = el('tr', null, el('th', { text: 'RSS' }), el('th'));
  for (const m of moments) total.append(el('th', { class: 'num', text: fmtBytes(m.gap.rss, 'MiB') }), el('th', { class: 'num', text: fmtPct(1) }));
  body.append(el('table', { class: 'data' }, el('thead', null, head), el('tbody', null, ...rows), el('tfoot', null, total)));

  if (data.diagnosis.length > 0) {
    body.append(el('ul', { class: 'diagnosis', 'data-check': 'diagnosis' },
      ...data.diagnosis.map((s) => el('li', { text: s }))));
  }
}
