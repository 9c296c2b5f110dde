// main.js: reads the embedded data and draws each section. Runs last.

function loadData() {
  const node = document.getElementById('profile-data');
  const text = node ? node.textContent.trim() : '';
  if (!text) return null;
  const data = JSON.parse(text);
  if (data.format !== 'allocscope-viewer-data' || data.version !== 2) {
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
  renderSpans(data);
  const sites = renderSites(data);
  const timings = { before_flame_ms: performance.now() - t0 };
  // Let the top of the page paint before the call tree is built.
  setTimeout(() => {
    const t1 = performance.now();
    const flame = renderFlame(data);
    timings.flame_ms = performance.now() - t1;
    // selfTest exists only in pages rendered with their self-test (selftest.js).
    if (location.hash === '#selftest' && typeof selfTest === 'function') {
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
