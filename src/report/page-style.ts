/**
 * The report page's style sheet, inlined into the page (no network, no web fonts: the
 * system's own sans-serif and monospace). Print: sections start on a fresh page when
 * they would be cut, interactive controls are hidden, colours are kept.
 */
export const KIND_COLOURS: Record<string, string> = {
  header: '#6b7280',
  static: '#2563eb',
  'static-end': '#1e3a8a',
  memory: '#16a34a',
  context: '#9333ea',
  checkpoint: '#ea580c',
  emulator: '#0891b2',
  end: '#111827',
  other: '#a16207',
  trailing: '#dc2626',
};

export const PAGE_STYLE = `
:root { --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --bad: #dc2626; --warn: #d97706; --good: #16a34a; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 12px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
section { margin: 28px 0; break-inside: avoid-page; }
code, .mono, td.num, td.hex { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12.5px; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 2px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; color: #fff; }
.badge.good { background: var(--good); } .badge.bad { background: var(--bad); } .badge.warn { background: var(--warn); }
.facts { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 8px; margin: 12px 0; }
.fact { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; }
.fact b { display: block; font-size: 18px; }
.fact span { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.num { text-align: right; white-space: nowrap; }
.scroll { max-height: 420px; overflow: auto; border: 1px solid var(--line); border-radius: 6px; }
.timeline { position: relative; height: 46px; background: #f3f4f6; border-radius: 4px; margin: 22px 0 4px; }
.timeline .mark { position: absolute; top: 8px; height: 30px; min-width: 2px; border-right: 1px solid rgba(255,255,255,.6); }
.timeline .mark:hover { outline: 2px solid #000; z-index: 2; }
.timeline .pin { position: absolute; top: -14px; width: 0; height: 0; border-left: 6px solid transparent; border-right: 6px solid transparent; border-top: 12px solid var(--bad); margin-left: -6px; z-index: 3; }
.timeline .pin.warning { border-top-color: var(--warn); }
.timeline .pin.info { border-top-color: var(--muted); }
.timeline .sde { position: absolute; top: 0; bottom: 0; border-left: 2px solid #1e3a8a; z-index: 2; }
.timeline .sde.inferred { border-left-style: dashed; }
.roundbar { position: relative; height: 16px; margin: 2px 0 8px; }
.roundbar div { position: absolute; height: 14px; font-size: 10px; line-height: 14px; color: #fff; background: #4b5563; overflow: hidden; white-space: nowrap; padding-left: 2px; border-right: 1px solid #fff; }
.strip { display: flex; height: 34px; margin: 4px 0 8px; border-radius: 4px; overflow: hidden; }
.strip div { flex: 1 1 0; min-width: 0; overflow: hidden; color: #fff; font-size: 9.5px; line-height: 11px; padding: 2px 2px; border-right: 1px solid #fff; word-break: break-all; }
.strip div.flag-error { outline: 3px solid var(--bad); outline-offset: -3px; }
.strip div.flag-warning { outline: 3px solid var(--warn); outline-offset: -3px; }
.strip div:hover { outline: 2px solid #000; outline-offset: -2px; }
.axis { display: flex; justify-content: space-between; font-size: 11px; color: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: 10px; font-size: 12px; margin: 6px 0; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; vertical-align: -2px; margin-right: 4px; }
.kind { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px; }
#vcpu-regs td, #vcpu-regs th { padding: 3px 5px; font-size: 11.5px; }
tr.error td { background: #fef2f2; } tr.warning td { background: #fffbeb; }
canvas { display: block; max-width: 100%; image-rendering: pixelated; border: 1px solid var(--line); }
.controls { margin: 6px 0; font-size: 13px; }
.controls label { margin-right: 12px; }
.feature { display: inline-block; margin: 1px 3px 1px 0; padding: 0 4px; border-radius: 3px; background: #eef2ff; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11.5px; }
.feature.blocked { background: #fee2e2; color: #991b1b; font-weight: 600; }
.feature.stripped { background: #fef3c7; color: #92400e; }
.chart { margin: 8px 0 16px; }
.note { background: #f9fafb; border-left: 3px solid var(--line); padding: 6px 10px; }
footer { margin-top: 40px; font-size: 12px; color: var(--muted); }
@media print {
  main { max-width: none; padding: 0; }
  .controls { display: none; }
  .scroll { max-height: none; overflow: visible; border: none; }
  section { break-inside: auto; }
  h2 { break-after: avoid; }
  body { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`;
