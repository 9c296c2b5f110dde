// selftest.js: with the URL hash #selftest, drive the page like a user (metric switch, a
// flamegraph click, table sort and filter) and write what it showed as JSON into
// <pre id="selftest">. Opt-in: only in pages rendered for the browser test
// (`allocscope::report::html::render_with_self_test`), not in every report.

function selfTest(data, sites, flame, timings) {
  const out = { errors: pageErrors, timings, sections: {}, checks: {}, actions: {} };
  for (const id of ['summary', 'gap', 'timeline', 'sizes', 'spans', 'sites', 'flame']) {
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
