/**
 * The report as one self-contained HTML page: the model's numbers as HTML (tables, the
 * timeline as positioned boxes), the charting library and the page's own script inline,
 * the data they draw from embedded as JSON. Nothing is fetched: it opens from disk and
 * prints. The numbers a test compares sit in data- attributes of each section.
 */
import { KIND_COLOURS, PAGE_STYLE } from './page-style.js';
import { PAGE_SCRIPT } from './page-script.js';
import type { Finding, ReportModel } from './model.js';
import type { Mark } from './timeline.js';

/** The charting library's code and style, inlined as they are (see chart-lib.ts). */
export interface ChartLib {
  name: string;
  version: string;
  script: string;
  style: string;
}

/** Ranges of the memory map listed on the page (the model keeps up to MAX_RANGES). */
const RANGES_SHOWN = 200;

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]!);
}

const hex = (n: number): string => `0x${n.toString(16)}`;
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

function size(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(2)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} octets`;
}

const fact = (value: string, label: string, attr = ''): string => `<div class="fact"${attr}><b>${esc(value)}</b><span>${esc(label)}</span></div>`;

/** JSON inside a script element: nothing in it may close the element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Library code inside a script element. */
function scriptText(code: string): string {
  return code.replace(/<\/script/gi, '<\\/script');
}

function markTitle(m: Mark): string {
  const idx = m.first < 0 ? '' : m.count > 1 ? ` #${m.first}-#${m.last}` : ` #${m.first}`;
  const lines = [`${m.layer}${idx} ${m.label}${m.count > 1 ? ` x${m.count}` : ''}`, `offset ${hex(m.offset)}-${hex(m.end)} (${size(m.end - m.offset)})`];
  for (const [k, v] of Object.entries(m.fields)) lines.push(`${k}: ${v}`);
  return lines.join('\n');
}

/** Index of the mark whose octets hold `offset` (the last one for offsets past the end), -1 if none. */
function markAt(marks: readonly Mark[], offset: number): number {
  let lo = 0;
  let hi = marks.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid]!.offset <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

function pct(n: number, total: number): string {
  return `${total > 0 ? ((n / total) * 100).toFixed(4) : '0'}%`;
}

function findingWhere(f: Finding): string {
  const parts: string[] = [];
  if (f.offset !== undefined) parts.push(`${f.offset} (${hex(f.offset)})`);
  if (f.layer !== undefined) parts.push(f.layer);
  if (f.recordIndex !== undefined) parts.push(`#${f.recordIndex}`);
  if (f.recordType !== undefined) parts.push(f.recordType);
  return parts.join(', ');
}

function layersSection(m: ReportModel): string {
  const t = m.timeline;
  const total = Math.max(1, t.bytes);
  const marks = t.marks
    .map((k, i) => `<div class="mark" data-i="${i}" style="left:${pct(k.offset, total)};width:${pct(k.end - k.offset, total)};background:${KIND_COLOURS[k.kind] ?? '#999'}" title="${esc(markTitle(k))}"></div>`)
    .join('');
  const pins = m.findings
    .filter((f) => f.offset !== undefined)
    .slice(0, 200)
    .map((f) => `<div class="pin ${esc(f.severity)}" style="left:${pct(Math.min(f.offset!, total), total)}" title="${esc(`${f.severity} [${f.code}] at ${findingWhere(f)}: ${f.message}`)}"></div>`)
    .join('');
  const sde = t.staticDataEnd
    ? `<div class="sde${t.staticDataEnd.inferred ? ' inferred' : ''}" style="left:${pct(t.staticDataEnd.offset, total)}" title="${esc(
        t.staticDataEnd.inferred
          ? `STATIC_DATA_END inferred at record #${t.staticDataEnd.recordIndex} (${t.staticDataEnd.inferredAt ?? ''}), offset ${hex(t.staticDataEnd.offset)}`
          : `STATIC_DATA_END, record #${t.staticDataEnd.recordIndex}, offset ${hex(t.staticDataEnd.offset)}`,
      )}"></div>`
    : '';
  const rounds = m.streamRounds.rounds
    .map(
      (r) =>
        `<div style="left:${pct(r.offset, total)};width:${pct(r.end - r.offset, total)}" title="${esc(`${r.verify ? 'verify round' : `round ${r.round}`}: ${r.pages} page(s) in ${r.records} PAGE_DATA record(s), offset ${hex(r.offset)}-${hex(r.end)}`)}">${r.verify ? 'V' : r.round}</div>`,
    )
    .join('');
  // The same marks side by side, each as wide as the next: headers and small records, a
  // sliver on the byte scale, get room; a mark holding a finding is outlined.
  const worst = new Map<number, string>();
  for (const f of m.findings) {
    if (f.offset === undefined) continue;
    const i = markAt(t.marks, f.offset);
    if (i >= 0 && worst.get(i) !== 'error') worst.set(i, f.severity);
  }
  const labelled = t.marks.length <= 60;
  const strip = t.marks
    .map((k, i) => {
      const flag = worst.get(i);
      return `<div class="${flag ? `flag-${esc(flag)}` : ''}" style="background:${KIND_COLOURS[k.kind] ?? '#999'}" title="${esc(markTitle(k))}">${labelled ? esc(k.label.replace(/_/g, '_\u200b')) : ''}</div>`;
    })
    .join('');
  const kinds = Object.keys(KIND_COLOURS).filter((k) => t.marks.some((mk) => mk.kind === k));
  const legend = kinds.map((k) => `<span><i style="background:${KIND_COLOURS[k]}"></i>${esc(k)}</span>`).join('');
  const rows = t.marks
    .map((k) => {
      const idx = k.first < 0 ? '' : k.count > 1 ? `#${k.first}-#${k.last}` : `#${k.first}`;
      const fields = Object.entries(k.fields)
        .map(([a, b]) => `${esc(a)}: ${esc(b)}`)
        .join('; ');
      return `<tr><td class="hex">${hex(k.offset)}</td><td>${esc(k.layer)}</td><td class="mono">${esc(idx)}</td><td><span class="kind" style="background:${KIND_COLOURS[k.kind] ?? '#999'}"></span>${esc(k.label)}${k.count > 1 ? ` x${k.count}` : ''}</td><td class="num">${int(k.end - k.offset)}</td><td>${fields}</td></tr>`;
    })
    .join('\n');
  const sdeText = t.staticDataEnd
    ? t.staticDataEnd.inferred
      ? `inferred at record #${t.staticDataEnd.recordIndex} (${esc(t.staticDataEnd.inferredAt ?? '')}), offset ${hex(t.staticDataEnd.offset)} (dashed line)`
      : `record #${t.staticDataEnd.recordIndex} at offset ${hex(t.staticDataEnd.offset)} (solid line)`
    : 'not reached';
  const findingRows = m.findings
    .map(
      (f) =>
        `<tr class="${esc(f.severity)}"><td>${esc(f.severity)}</td><td class="mono">${esc(f.code)}</td><td class="mono">${esc(findingWhere(f))}</td><td>${esc(f.message)}</td></tr>`,
    )
    .join('\n');
  const dropped = Object.entries(m.findingsDropped);
  const droppedText = dropped.length ? `<p class="muted">Not listed: ${dropped.map(([c, n]) => `${int(n)} x ${esc(c)}`).join(', ')}.</p>` : '';
  const overflow = t.overflowRecords > 0 ? `<p class="note">${int(t.overflowRecords)} record(s) past the first marks are folded into the mark "several".</p>` : '';
  return `<section id="layers" data-records="${m.records}" data-items="${m.items}" data-marks="${t.marks.length}" data-findings="${m.errors + m.warnings}">
<h2>Layers and records</h2>
<p>Layers: <b>${esc(m.summary.layers.join(' > ') || 'none')}</b>; ${int(m.records)} record(s) in ${size(t.bytes)}; STATIC_DATA_END: ${sdeText}.
Each box is a record (consecutive records of one type folded into one), placed by byte offset; hover for its fields. Triangles pin the findings of <code>verify</code>. The grey band below numbers the memory rounds.</p>
<div class="legend">${legend}<span><i style="background:var(--bad)"></i>error</span><span><i style="background:var(--warn)"></i>warning</span></div>
<div class="timeline" id="timeline">${marks}${sde}${pins}</div>
<div class="roundbar" id="roundbar">${rounds}</div>
<div class="axis"><span>0</span><span>${hex(Math.floor(t.bytes / 2))}</span><span>${hex(t.bytes)} (${size(t.bytes)})</span></div>
<p class="muted">The same marks in stream order, each as wide as the next (outlined: holds a finding):</p>
<div class="strip" id="strip">${strip}</div>
${overflow}
<h3>Findings (${int(m.errors)} error(s), ${int(m.warnings)} warning(s))</h3>
${m.findings.length ? `<div class="scroll"><table id="findings"><tr><th>severity</th><th>code</th><th>where</th><th>what</th></tr>${findingRows}</table></div>` : '<p>None: the stream conforms.</p>'}
${droppedText}
<h3>Records (${int(t.marks.length)} mark(s))</h3>
<div class="scroll"><table id="records"><tr><th>offset</th><th>layer</th><th>index</th><th>type</th><th>octets</th><th>fields</th></tr>
${rows}</table></div>
</section>`;
}

function memorySection(m: ReportModel): string {
  const mem = m.memory;
  const s = m.summary;
  const types = Object.entries(mem.byType)
    .map(([k, v]) => `${esc(k)} ${int(v)}`)
    .join(', ');
  const ranges = mem.ranges
    .slice(0, RANGES_SHOWN)
    .map((r) => `<tr><td class="hex">${hex(r.first)}</td><td class="hex">${hex(r.last)}</td><td class="num">${int(r.last - r.first + 1)}</td><td class="num">${size((r.last - r.first + 1) * 4096)}</td></tr>`)
    .join('');
  const moreRanges = mem.ranges.length - Math.min(mem.ranges.length, RANGES_SHOWN) + mem.moreRanges;
  const perRound = mem.rounds.length
    ? `<h3>Pages each round carried</h3><p class="muted">One row per round (top: round 1${mem.rounds.length >= 32 ? '; rounds past 32 share the last row' : ''}), pfn space left to right in ${int(mem.rounds[0]!.pages.length)} cells of ${int(mem.rounds[0]!.cellPfns)} pfn(s); darker: more of the cell's pages sent in that round.</p><canvas id="rounds-canvas" width="1024" height="${mem.rounds.length * 12}"></canvas>`
    : '';
  return `<section id="memory" data-populated="${mem.populatedPfns}" data-pages-sent="${mem.pagesSent}" data-resent="${mem.pagesResent}" data-cells="${mem.cells}">
<h2>Memory map</h2>
<div class="facts">${fact(int(mem.populatedPfns), 'populated pfns', ' id="fact-populated"')}${fact(size(mem.populatedPfns * 4096), 'memory')}${fact(int(mem.pagesSent), 'pages sent')}${fact(int(mem.pagesResent), 'pages sent again')}${fact(mem.maxPfn >= 0 ? hex(mem.maxPfn) : '-', 'highest pfn')}${fact(int(mem.ranges.length + mem.moreRanges), 'populated ranges')}${fact(int(mem.holes), 'holes')}</div>
<p>Pfn entries by type: ${types || 'none'}.${mem.approximate ? ' <b>Counts are approximate</b>: the pfns spread past what the map tracks one by one.' : ''}${s.populatedPfnsLowerBound ? ' (The summary counts a lower bound.)' : ''}</p>
<div class="controls"><label><input type="radio" name="memory-mode" value="populated" checked> populated</label><label><input type="radio" name="memory-mode" value="type"> page type</label><label><input type="radio" name="memory-mode" value="resent"> sent more than once</label></div>
<p class="muted">${int(mem.cells)} cell(s) of ${int(mem.cellPfns)} pfn(s) (${size(mem.cellPfns * 4096)}), 128 to a row, pfn 0 top left. Green: populated (darker: fuller); grey: holes; page type: NOTAB green, page tables blue/violet, XTAB pink, XALLOC cyan; orange: pages sent more than once.</p>
<canvas id="memory-canvas" width="1024" height="${Math.max(8, Math.ceil(mem.cells / 128) * 8)}"></canvas>
${perRound}
<h3>Populated ranges</h3>
${mem.ranges.length ? `<div class="scroll"><table id="ranges"><tr><th>first pfn</th><th>last pfn</th><th>pfns</th><th>memory</th></tr>${ranges}</table></div>` : '<p>No memory.</p>'}
${moreRanges > 0 ? `<p class="muted">and ${int(moreRanges)} more range(s).</p>` : ''}
</section>`;
}

function cpuSectionHtml(m: ReportModel): string {
  const c = m.cpu;
  if (!c.present) {
    return `<section id="cpu" data-features="0"><h2>CPU policy</h2><p>The stream carries no CPUID policy (a v2 stream, or a v3 one without it): the destination will regenerate one.${c.note ? ` ${esc(c.note)}` : ''}</p></section>`;
  }
  const blocked = new Set<string>();
  const stripped = new Set<string>();
  for (const r of c.host?.reasons ?? []) if (r.feature) blocked.add(r.feature);
  for (const r of c.host?.stripped ?? []) if (r.feature) stripped.add(r.feature);
  const words = c.words
    .map((w) => {
      const feats = w.features.map((f) => `<span class="feature${blocked.has(f) ? ' blocked' : stripped.has(f) ? ' stripped' : ''}">${esc(f)}</span>`).join('');
      const unnamed = w.unnamedBits.map((b) => `<span class="feature">&lt;${b}&gt;</span>`).join('');
      return `<tr><td class="num">${w.word}</td><td class="mono">${esc(w.source)}</td><td class="hex">${esc(w.value)}</td><td>${feats}${unnamed || (feats ? '' : '<span class="muted">-</span>')}</td></tr>`;
    })
    .join('');
  const msrs = c.msrList.map((x) => `<tr><td class="mono">${esc(x.name)}</td><td class="hex">${esc(x.index)}</td><td class="hex">${esc(x.value)}</td><td>${esc(x.bits.join(' '))}</td></tr>`).join('');
  let host = '';
  if (c.host) {
    const h = c.host;
    const verdict = h.compatible ? '<span class="badge good">can move</span>' : '<span class="badge bad">blocked</span>';
    const reasons = h.reasons.map((r) => `<li><code>${esc(r.kind)}</code> ${esc(r.text)}</li>`).join('');
    const strip = h.stripped.map((r) => `<li>${esc(r.text)}</li>`).join('');
    host = `<h3>Against ${esc(h.file)} (${esc(h.policy)}), Xen ${esc(h.xen)}: ${verdict}</h3>
${h.reasons.length ? `<p>${h.reasons.length} reason(s) block the move (as <code>xenmig compat</code> gives them; red in the table):</p><ul id="cpu-reasons">${reasons}</ul>` : '<p>Nothing blocks the move.</p>'}
${h.stripped.length ? `<p>Xen would hide ${h.stripped.length} feature(s) from the guest there (amber):</p><ul id="cpu-stripped">${strip}</ul>` : ''}`;
  } else if (c.note) host = `<p class="note">${esc(c.note)}</p>`;
  return `<section id="cpu" data-features="${c.featureCount ?? 0}" data-blocking="${c.host?.reasons.length ?? ''}">
<h2>CPU policy</h2>
<p>${esc(c.vendor ?? '')}${c.brand ? `, ${esc(c.brand)}` : ''}; signature ${esc(c.signature ?? '')}; ${c.leaves} CPUID leaves, ${c.msrs} MSR(s); ${c.featureCount ?? 0} feature(s) set.</p>
${host}
<h3>Features by word</h3>
<table id="cpu-words"><tr><th>word</th><th>source</th><th>value</th><th>features</th></tr>${words}</table>
${msrs ? `<h3>MSRs</h3><table><tr><th>MSR</th><th>index</th><th>value</th><th>bits</th></tr>${msrs}</table>` : ''}
</section>`;
}

function vcpusSection(m: ReportModel): string {
  const v = m.vcpus;
  const hvm = v.filter((x) => x.source === 'hvm-cpu');
  const pv = v.filter((x) => x.source === 'pv');
  const regs = ['rip', 'rsp', 'rflags', 'cr0', 'cr3', 'cr4', 'efer', 'cs'];
  const hvmTable = hvm.length
    ? `<table id="vcpu-regs"><tr><th>vcpu</th><th>mode</th>${regs.map((r) => `<th>${r}</th>`).join('')}</tr>${hvm
        .map((x) => `<tr><td class="num">${x.id}</td><td>${esc(x.mode ?? '')}</td>${regs.map((r) => `<td class="hex">${esc(x.registers?.[r] ?? '')}</td>`).join('')}</tr>`)
        .join('')}</table><p class="muted">From each vcpu's CPU save record in HVM_CONTEXT (struct hvm_hw_cpu).</p>`
    : '';
  const pvTable = pv.length
    ? `<table id="vcpu-records"><tr><th>vcpu</th><th>context records</th></tr>${pv
        .map((x) => `<tr><td class="num">${x.id}</td><td>${x.records.map((r) => `${esc(r.type)} (${r.bytes} octets)`).join(', ')}</td></tr>`)
        .join('')}</table>`
    : '';
  return `<section id="vcpus" data-vcpus="${v.length}">
<h2>vcpus</h2>
${v.length === 0 ? '<p>No vcpu context in the stream (it ends before the context records, or carries none).</p>' : `${hvmTable}${pvTable}`}
</section>`;
}

function ms(n: number | undefined): string {
  return n === undefined ? '-' : `${n.toFixed(n < 10 ? 2 : 0)} ms`;
}

function precopySection(m: ReportModel): string {
  const p = m.precopy;
  const from =
    p.source === 'migrate'
      ? 'the log of <code>xenmig migrate --json</code>'
      : p.source === 'save'
        ? 'the log of <code>xenmig save --json</code> (no receiver: no downtime)'
        : p.source === 'receive'
        ? 'the log of <code>xenmig receive --json</code>'
        : 'the stream alone (give <code>--migration LOG.json</code> for times, dirty counts and the downtime)';
  const rows = p.rounds
    .map(
      (r) =>
        `<tr><td class="num">${r.round}</td><td>${esc(r.phase)}</td><td class="num">${int(r.pages)}</td><td class="num">${r.dirtyAfter >= 0 ? int(r.dirtyAfter) : '-'}</td><td class="num">${size(r.bytes)}</td><td class="num">${ms(r.startMs)}</td><td class="num">${ms(r.durationMs)}</td><td class="num">${r.throughput !== undefined ? `${(r.throughput / 2 ** 20).toFixed(1)} MiB/s` : '-'}</td><td class="num">${r.dirtyRate !== undefined ? `${int(r.dirtyRate)}/s` : '-'}</td></tr>`,
    )
    .join('');
  const facts = [
    fact(String(p.rounds.length), 'rounds', ' id="fact-rounds"'),
    p.downtimeMs !== undefined ? fact(ms(p.downtimeMs), 'downtime') : '',
    p.totalMs !== undefined ? fact(ms(p.totalMs), 'total time') : '',
    p.totalBytes !== undefined ? fact(size(p.totalBytes), 'octets sent') : '',
  ].join('');
  const stop = p.stop ? `<p>Pre-copy stopped after round ${p.stop.afterRound}: <b>${esc(p.stop.reason)}</b>; then the guest was suspended and the final round sent.</p>` : '';
  return `<section id="precopy" data-rounds="${p.rounds.length}" data-source="${p.source}"${p.downtimeMs !== undefined ? ` data-downtime-ms="${p.downtimeMs.toFixed(3)}"` : ''}>
<h2>Pre-copy</h2>
<p>From ${from}.${p.outcome ? ` Outcome: ${esc(p.outcome)}.` : ''}</p>
<div class="facts">${facts}</div>
${stop}
${p.rounds.length ? `<div id="precopy-charts"></div><table id="rounds"><tr><th>round</th><th>phase</th><th>pages</th><th>dirty at end</th><th>octets</th><th>start</th><th>time</th><th>throughput</th><th>dirty rate</th></tr>${rows}</table>` : '<p>No memory rounds.</p>'}
</section>`;
}

export interface PageOptions {
  chartLib?: ChartLib;
  /** When the page was made (default: now). */
  generated?: Date;
  xenmigVersion?: string;
}

export function renderReportPage(m: ReportModel, opts: PageOptions = {}): string {
  const s = m.summary;
  const verdict = m.framingError
    ? '<span class="badge bad">broken stream</span>'
    : m.conforming
      ? `<span class="badge good">conforming</span>`
      : '<span class="badge bad">NOT conforming</span>';
  const guest = s.libxc ? `${s.libxc.guestType?.toUpperCase() ?? `type ${s.libxc.domainType}`} guest, libxc v${s.libxc.version}, Xen ${s.libxc.xenMajor}.${s.libxc.xenMinor}` : 'no libxc stream';
  const facts = [
    fact(int(m.records), 'records', ' id="fact-records"'),
    fact(size(m.timeline.bytes), 'stream size'),
    fact(int(m.memory.populatedPfns), 'populated pfns'),
    fact(String(s.vcpus.length), 'vcpus'),
    fact(String(m.streamRounds.count), 'memory rounds in the stream'),
    fact(`${m.errors} / ${m.warnings}`, 'errors / warnings'),
  ].join('');
  const framing = m.framingError ? `<p class="note"><b>The stream could not be read past offset ${m.framingError.offset ?? '?'}</b>: ${esc(m.framingError.message)} [${esc(m.framingError.code)}]. What came before it is shown.</p>` : '';
  const data = { memory: m.memory, precopy: m.precopy };
  const lib = opts.chartLib;
  const generated = (opts.generated ?? new Date()).toISOString();
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="xenmig report${opts.xenmigVersion ? ` ${esc(opts.xenmigVersion)}` : ''}">
<title>xenmig report: ${esc(m.input.name)}</title>
${lib ? `<style>${lib.style}</style>` : ''}
<style>${PAGE_STYLE}</style>
</head>
<body>
<main id="report" data-records="${m.records}" data-populated="${m.memory.populatedPfns}" data-rounds="${m.precopy.rounds.length}" data-stream-rounds="${m.streamRounds.count}" data-errors="${m.errors}" data-warnings="${m.warnings}" data-conforming="${m.conforming}">
<header>
<h1>xenmig report: ${esc(m.input.name)}</h1>
<p>${esc(guest)}; layers ${esc(s.layers.join(' > ') || 'none')}. ${verdict}</p>
${framing}
<div class="facts">${facts}</div>
</header>
${layersSection(m)}
${memorySection(m)}
${cpuSectionHtml(m)}
${vcpusSection(m)}
${precopySection(m)}
<footer>Made by xenmig report on ${esc(generated)}${lib ? `; charts drawn with ${esc(lib.name)} ${esc(lib.version)} (MIT), inlined` : '; charts unavailable (the charting library was not found), tables only'}. This page fetches nothing.</footer>
</main>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
${lib ? `<script>${scriptText(lib.script)}</script>` : ''}
<script>${scriptText(PAGE_SCRIPT)}</script>
</body>
</html>
`;
}
