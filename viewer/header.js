// header.js: who ran, how it was measured, the exact totals.

function samplingText(bytes) {
  if (bytes === 0) return 'off (no call stacks)';
  if (bytes === 1) return 'exact (every allocation)';
  return 'sampled, mean interval ' + fmtBytes(bytes);
}

function renderSummary(data) {
  const m = data.meta;
  const t = data.totals;
  document.getElementById('program').append(fig('span', 'meta.program', m.program, m.program));
  // A flushed profile says so first: the run went on (or was killed) after it.
  if (data.profile_note) {
    document.getElementById('meta').before(el('p', { class: 'flushed', 'data-check': 'profile_note', 'data-value': m.kind, text: data.profile_note }));
  }
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
