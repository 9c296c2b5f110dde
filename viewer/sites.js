// sites.js: call sites as a sortable, filterable table, one page of rows in the DOM at a time.

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
          fig('span', 'site.name', i, siteName(data, i)), loc ? el('span', { class: 'loc', text: loc }) : null,
          s.span && s.span[i] ? el('span', { class: 'loc', text: 'in span ' + s.span[i] }) : null));
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
        (s.median_ns[i] === null ? '' : ', median lifetime ' + fmtSecs(s.median_ns[i] / 1e9)));
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
