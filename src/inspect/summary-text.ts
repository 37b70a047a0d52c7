/** The one-screen text of a StreamSummary, shared by `info`, `demo` and library users. */
import type { StreamSummary, VerifyResult } from '../verify/index.js';
import { formatDiagnostic } from '../verify/index.js';
import { vcpuRegistersText } from '../format/vcpu-text.js';

function size(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(2)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(2)} KiB`;
  return `${bytes} octets`;
}

function endian(big: boolean): string {
  return big ? 'big-endian' : 'little-endian';
}

export function summaryLines(s: StreamSummary): string[] {
  const lines: string[] = [];
  const row = (k: string, v: string): void => void lines.push(`${(k + ':').padEnd(18)}${v}`);
  row('layers', s.layers.join(' > ') || '(none)');
  if (s.xl) row('xl header', `${endian(s.xl.bigEndian)}, config ${s.xl.configFormat}${s.xl.configBytes ? ` (${s.xl.configBytes} octets)` : ''}`);
  if (s.libxl) row('libxl stream', `v${s.libxl.version}, ${endian(s.libxl.bigEndian)}${s.libxl.convertedFromLegacy ? ', converted from legacy' : ''}`);
  if (s.libxc) {
    const x = s.libxc;
    row('libxc stream', `v${x.version}, ${endian(x.bigEndian)}, page shift ${x.pageShift}`);
    row('guest type', x.guestType === 'pv' ? 'x86 PV' : x.guestType === 'hvm' ? 'x86 HVM' : `unknown (domain type ${x.domainType})`);
    row('xen version', x.convertedFromLegacy ? `converted from legacy (converter version ${x.xenMinor})` : `${x.xenMajor}.${x.xenMinor}`);
  }
  const types = Object.entries(s.pagesByType)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  row('pages', `${s.pageDataRecords} PAGE_DATA record(s): ${types || 'none'}`);
  row('memory', `${size(s.memoryBytes)} (${s.populatedPfns}${s.populatedPfnsLowerBound ? '+' : ''} distinct pfns${s.pfnRange ? `, 0x${s.pfnRange.min.toString(16)}-0x${s.pfnRange.max.toString(16)}` : ''}; ${s.pagesWithData} page(s) sent)`);
  row('vcpus', s.vcpus.length ? `${s.vcpus.length} (ids ${s.vcpus.join(', ')})` : 'none seen');
  for (const v of s.vcpuStates ?? []) lines.push(`${''.padEnd(18)}${vcpuRegistersText(v)}`);
  row('cpuid policy', s.cpuidPolicy ? `present, ${s.cpuidPolicy.leaves} leaves` : 'absent');
  row('msr policy', s.msrPolicy ? `present, ${s.msrPolicy.msrs} MSRs` : 'absent');
  if (s.pvInfo) row('pv info', `guest width ${s.pvInfo.guestWidth}, ${s.pvInfo.ptLevels} page table levels`);
  if (s.tsc) row('tsc', `mode ${s.tsc.mode}, ${s.tsc.khz} kHz`);
  if (s.libxc?.guestType === 'hvm') row('hvm', `${s.hvmParams} param(s), context ${s.hvmContextBytes} octets`);
  if (s.libxl?.emulators.length) {
    row('emulator', s.libxl.emulators.map((e) => `${e.kind} #${e.index} (id ${e.emulatorId}, ${e.length} octets${e.keys !== undefined ? `, ${e.keys} keys` : ''})`).join('; '));
  }
  const sde = s.staticDataEnd;
  row(
    'static data end',
    sde
      ? sde.inferred
        ? `inferred before record #${sde.recordIndex} (${sde.inferredAt}) at offset ${sde.offset} (v2 stream)`
        : `explicit, record #${sde.recordIndex} at offset ${sde.offset}`
      : 'not found',
  );
  if (s.checkpoints) row('checkpoints', String(s.checkpoints));
  if (s.verifyRecord) row('verify', 'VERIFY record present (pages resent for checking)');
  row('stream size', size(s.bytes));
  return lines;
}

export function resultLines(result: VerifyResult): string[] {
  const lines = summaryLines(result.summary);
  const c = result.checkpoints;
  if (c) {
    const text = `${'checkpoints:'.padEnd(18)}${c.checkpoints} (${c.kind === 'colo' ? 'COLO' : 'Remus'}), ${c.complete} closed by CHECKPOINT_END${c.kind === 'colo' ? ' and CHECKPOINT_STATE' : ''}`;
    const at = lines.findIndex((l) => l.startsWith('checkpoints:'));
    if (at >= 0) lines[at] = text;
    else lines.splice(lines.length - 1, 0, text);
  }
  const verdict = result.conforming ? 'conforming' : 'NOT conforming';
  lines.push(`${'verdict:'.padEnd(18)}${verdict}, ${result.errors} error(s), ${result.warnings} warning(s)`);
  for (const d of result.diagnostics) if (d.severity !== 'info') lines.push(`  ${formatDiagnostic(d)}`);
  if (result.suppressed) lines.push(`  (${result.suppressed} more not shown)`);
  return lines;
}
