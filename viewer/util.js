// allocscope report viewer: plain JavaScript with no dependencies, so the page opens from disk
// without network or build step. `alloc-report html` inlines the viewer's scripts, in the order
// of `SCRIPTS` in src/report/html.rs, into one <script> element and embeds the profile as JSON
// in <script id="profile-data"> (shape: `ViewerData` in src/report/html.rs). Opened from this
// directory, index.html loads the same files one by one.
//
// Every figure shown carries `data-check="name"` and `data-value="raw number"`, so the browser
// test (tests/html_report.rs) can compare what the page shows with the profile. A page rendered
// with its self-test (selftest.js) drives itself when opened with the URL hash `#selftest`.
//
// util.js: DOM helpers and the number formatter every section uses.
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

// Numbers, in the style of allocscope's text reports (src/units.rs): counts with thousands
// separators; bytes in binary units with three significant digits from KiB up ("812 B",
// "1.50 KiB", "45.0 MiB", "300 GiB"), or in a fixed unit when given one ("12.3 MiB" in the
// gap table); shares with one decimal ("45.6%"); durations as "1.23 s", "45.6 ms", "120 µs".
const INTEGER = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

function fmtCount(n) {
  return INTEGER.format(n);
}

function fmtBytes(n, unit) {
  let v = Math.abs(n);
  let u = 0;
  if (unit) {
    u = BYTE_UNITS.indexOf(unit);
    v /= Math.pow(1024, u);
  } else {
    while (v >= 1024 && u < BYTE_UNITS.length - 1) {
      v /= 1024;
      u++;
    }
  }
  const s = u === 0 ? v.toFixed(0) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0);
  return (n < 0 ? '-' : '') + s + ' ' + BYTE_UNITS[u];
}

function fmtPct(fraction) {
  return (fraction * 100).toFixed(1) + '%';
}

function fmtSecs(s) {
  const a = Math.abs(s);
  if (a >= 1) return s.toFixed(2) + ' s';
  if (a >= 1e-3) return (s * 1e3).toFixed(1) + ' ms';
  return (s * 1e6).toFixed(0) + ' µs';
}

function frameLocation(data, f) {
  const file = data.frames.file[f];
  if (!file) return '';
  const line = data.frames.line[f];
  return line === null || line === undefined ? file : file + ':' + line;
}
