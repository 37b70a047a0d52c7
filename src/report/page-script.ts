/**
 * The report page's own script, inlined after the charting library: draws the memory
 * map and the per-round strip on canvases from the embedded data, and the pre-copy
 * charts with uPlot. Everything else on the page is plain HTML written by page.ts, so
 * the page reads (and prints) without it. Plain ES2017, no modules: it runs from a
 * file:// URL in any current browser.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var TYPE_COLOURS = { NOTAB: '#16a34a', L1TAB: '#2563eb', L2TAB: '#1d4ed8', L3TAB: '#1e40af', L4TAB: '#1e3a8a',
    L1TAB_PINNED: '#7c3aed', L2TAB_PINNED: '#6d28d9', L3TAB_PINNED: '#5b21b6', L4TAB_PINNED: '#4c1d95',
    BROKEN: '#dc2626', XALLOC: '#0891b2', XTAB: '#f87171' };

  function shade(base, f) {
    // base: [r,g,b]; f in [0,1]: 0 -> very light, 1 -> full colour
    var w = 0.12 + 0.88 * Math.max(0, Math.min(1, f));
    return 'rgb(' + base.map(function (c) { return Math.round(255 - (255 - c) * w); }).join(',') + ')';
  }
  var GREEN = [22, 163, 74], ORANGE = [234, 88, 12], SLATE = [71, 85, 105];

  function drawMemory(mode) {
    var m = data.memory, canvas = document.getElementById('memory-canvas');
    if (!canvas || !m || m.cells === 0) return;
    var cols = 128, cell = 8, rows = Math.max(1, Math.ceil(m.cells / cols));
    canvas.width = cols * cell; canvas.height = rows * cell;
    var g = canvas.getContext('2d');
    g.fillStyle = '#fff'; g.fillRect(0, 0, canvas.width, canvas.height);
    for (var i = 0; i < m.cells; i++) {
      var x = (i % cols) * cell, y = Math.floor(i / cols) * cell, colour;
      if (mode === 'type') {
        var t = m.dominantType[i];
        colour = t < 0 ? '#f3f4f6' : (TYPE_COLOURS[m.typeNames[t]] || '#a16207');
      } else if (mode === 'resent') {
        colour = m.resent[i] > 0 ? shade(ORANGE, m.resent[i] / Math.max(1, m.sent[i])) : (m.populated[i] > 0 ? '#e5e7eb' : '#f9fafb');
      } else {
        var f = m.populated[i] / m.cellPfns;
        colour = m.populated[i] > 0 ? shade(GREEN, f) : '#f3f4f6';
      }
      g.fillStyle = colour;
      g.fillRect(x, y, cell - 1, cell - 1);
    }
  }

  function drawRounds() {
    var m = data.memory, canvas = document.getElementById('rounds-canvas');
    if (!canvas || !m || m.rounds.length === 0) return;
    var width = 1024, rowH = 12, label = 0;
    var cellsPerRow = m.rounds[0].pages.length || 1;
    canvas.width = width; canvas.height = m.rounds.length * rowH;
    var g = canvas.getContext('2d');
    g.fillStyle = '#fff'; g.fillRect(0, 0, canvas.width, canvas.height);
    var w = width / cellsPerRow;
    m.rounds.forEach(function (r, row) {
      for (var i = 0; i < r.pages.length; i++) {
        if (r.pages[i] === 0) continue;
        g.fillStyle = shade(SLATE, r.pages[i] / r.cellPfns);
        g.fillRect(label + i * w, row * rowH, Math.max(1, w), rowH - 2);
      }
    });
  }

  function charts() {
    var p = data.precopy;
    if (!p || p.rounds.length === 0 || typeof uPlot !== 'function') return;
    var box = document.getElementById('precopy-charts');
    if (!box) return;
    var width = Math.max(320, Math.min(1070, box.clientWidth || 900));
    var xs = p.rounds.map(function (r) { return r.round; });
    var bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.6, 60] }) : undefined;
    function chart(id, title, series, yAxes) {
      var el = document.createElement('div');
      el.className = 'chart'; el.id = id;
      box.appendChild(el);
      var opts = {
        title: title, width: width, height: 220,
        scales: { x: { time: false } },
        axes: [{ label: 'round', incrs: [1, 2, 5, 10, 20, 50, 100] }].concat(yAxes),
        series: [{ label: 'round' }].concat(series.map(function (s) { return s.opts; })),
        legend: { show: true },
      };
      return new uPlot(opts, [xs].concat(series.map(function (s) { return s.values; })), el);
    }
    chart('chart-pages', 'Pages per round and pages dirty at its end', [
      { opts: { label: 'pages sent', stroke: '#16a34a', fill: 'rgba(22,163,74,.35)', paths: bars, points: { show: false } }, values: p.rounds.map(function (r) { return r.pages; }) },
      { opts: { label: 'dirty at end', stroke: '#dc2626', width: 2 }, values: p.rounds.map(function (r) { return r.dirtyAfter >= 0 ? r.dirtyAfter : null; }) },
    ], [{ label: 'pages', size: 70 }]);
    if (p.rounds.some(function (r) { return r.throughput !== undefined; })) {
      chart('chart-rates', 'Throughput (MiB/s) and dirty rate (pages/s) per round', [
        { opts: { label: 'throughput MiB/s', stroke: '#2563eb', width: 2, scale: 'mib' }, values: p.rounds.map(function (r) { return r.throughput !== undefined ? r.throughput / 1048576 : null; }) },
        { opts: { label: 'dirty pages/s', stroke: '#ea580c', width: 2, scale: 'rate' }, values: p.rounds.map(function (r) { return r.dirtyRate !== undefined ? r.dirtyRate : null; }) },
      ], [{ scale: 'mib', label: 'MiB/s', size: 70 }, { scale: 'rate', label: 'pages/s', side: 1, size: 70, grid: { show: false } }]);
    } else {
      chart('chart-bytes', 'Octets per round', [
        { opts: { label: 'MiB', stroke: '#2563eb', fill: 'rgba(37,99,235,.25)', paths: bars, points: { show: false } }, values: p.rounds.map(function (r) { return r.bytes / 1048576; }) },
      ], [{ label: 'MiB', size: 70 }]);
    }
  }

  var radios = document.querySelectorAll('input[name="memory-mode"]');
  for (var i = 0; i < radios.length; i++) {
    radios[i].addEventListener('change', function (e) { drawMemory(e.target.value); });
  }
  drawMemory('populated');
  drawRounds();
  charts();
  document.body.setAttribute('data-ready', '1');
})();
`;
