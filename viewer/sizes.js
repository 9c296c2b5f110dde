// sizes.js: counts and bytes per size class, with the rounding waste, as bars in a table.

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
