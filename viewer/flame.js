// flame.js: the flamegraph on a canvas. The call tree is built once (frames merged by function
// name); each metric sorts children lazily; only frames at least half a pixel wide are laid out.

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
