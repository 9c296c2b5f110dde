// spans.js: memory by tracing span (the profile's `spans` table, written when the program
// installed allocscope::SpanLayer): one row per span path, most bytes first, plus what no
// span covered.

function renderSpans(data) {
  const body = document.querySelector('#spans .body');
  const spans = data.spans || [];
  if (spans.length === 0) {
    body.append(emptyNote('No spans: the program did not install allocscope::SpanLayer (feature tracing-spans).'));
    return;
  }
  const total = data.totals.bytes_allocated || 1;
  let inAllocs = 0, inBytes = 0, maxBytes = 1;
  for (const s of spans) {
    inAllocs += s.allocs;
    inBytes += s.bytes;
    maxBytes = Math.max(maxBytes, s.bytes);
  }
  const rows = spans.map((s, i) => {
    const k = 'span.' + i;
    const bar = el('td', { class: 'barcell num' },
      el('div', { class: 'bar bytes', style: 'width:calc((100% - 16px) * ' + (s.bytes / maxBytes).toFixed(4) + ')' }),
      fig('span', k + '.bytes', s.bytes, fmtBytes(s.bytes)));
    const short = s.freed ? fmtPct(s.freed_under_1ms / s.freed) : '–';
    return el('tr', null,
      fig('td', k + '.path', s.path, s.path, 'mono'),
      fig('td', k + '.allocs', s.allocs, fmtCount(s.allocs), 'num'),
      bar,
      fig('td', k + '.share', s.bytes / total, fmtPct(s.bytes / total), 'num'),
      fig('td', k + '.reallocs', s.reallocs, fmtCount(s.reallocs), 'num'),
      fig('td', k + '.live_bytes', s.live_bytes, fmtBytes(s.live_bytes), 'num'),
      fig('td', k + '.peak_live_bytes', s.peak_live_bytes, fmtBytes(s.peak_live_bytes), 'num'),
      fig('td', k + '.short_lived', s.freed ? s.freed_under_1ms / s.freed : 0, short, 'num'));
  });
  const outAllocs = Math.max(0, data.totals.allocs - inAllocs);
  const outBytes = Math.max(0, data.totals.bytes_allocated - inBytes);
  body.append(
    el('table', { class: 'data' },
      el('thead', null, el('tr', null,
        el('th', { text: 'Span path' }), el('th', { class: 'num', text: 'Allocs' }),
        el('th', { class: 'num', text: 'Bytes' }), el('th', { class: 'num', text: '% bytes' }),
        el('th', { class: 'num', text: 'Reallocs' }), el('th', { class: 'num', text: 'Live (sampled)' }),
        el('th', { class: 'num', text: 'Peak live (sampled)' }), el('th', { class: 'num', text: 'Freed < 1 ms' }))),
      el('tbody', null, ...rows),
      el('tfoot', null, el('tr', null,
        el('th', { text: '(outside any span)' }),
        fig('th', 'spans.outside.allocs', outAllocs, fmtCount(outAllocs), 'num'),
        fig('th', 'spans.outside.bytes', outBytes, fmtBytes(outBytes), 'num'),
        fig('th', 'spans.outside.share', outBytes / total, fmtPct(outBytes / total), 'num')))));
}
