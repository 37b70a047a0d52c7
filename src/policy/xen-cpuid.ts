/**
 * `xen-cpuid -p` text: read it tolerantly, write it exactly as xen-cpuid prints it
 * (tools/misc/xen-cpuid.c, print_policy). xen-cpuid skips all-zero leaves but counts
 * them in its header, so a parsed policy remembers the counts it declared.
 */
import { UsageError } from '../format/errors.js';
import type { CpuidEntry, MsrEntry } from '../format/records.js';
import { CpuPolicy } from './policy.js';

export interface NamedPolicy {
  /** "Raw", "Host", "PV Max", "HVM Max", "PV Default", "HVM Default", "Domain N", or any name. */
  name: string;
  policy: CpuPolicy;
  /** The header's counts, which include leaves xen-cpuid did not print. */
  declaredLeaves?: number;
  declaredMsrs?: number;
}

const HEADER = /^(.*\S)\s+policy:\s*(\d+)\s+leaves,\s*(\d+)\s+MSRs\s*$/;
const NOT_SUPPORTED = /^(.*\S)\s+policy not supported by Xen\s*$/;
const MAXIMUM = /^Xen reports there are maximum \d+ leaves and \d+ MSRs\s*$/;
const HEX = '(?:0x)?([0-9a-fA-F]{1,8})';
const LEAF_LINE = new RegExp(`^\\s*${HEX}:${HEX}\\s*->\\s*${HEX}:${HEX}:${HEX}:${HEX}\\s*$`);
const MSR_LINE = /^\s*(?:0x)?([0-9a-fA-F]{1,8})\s*->\s*(?:0x)?([0-9a-fA-F]{1,16})\s*$/;
const CPUID_TITLE = /^\s*CPUID:\s*$/;
const MSRS_TITLE = /^\s*MSRs:\s*$/;
const CPUID_COLUMNS = /^\s*leaf\s+subleaf\s*->\s*eax\s+ebx\s+ecx\s+edx\s*$/;
const MSR_COLUMNS = /^\s*index\s*->\s*value\s*$/;

/** True when the text looks like xen-cpuid policy output. */
export function looksLikeXenCpuid(text: string): boolean {
  return text.split('\n').some((l) => HEADER.test(l));
}

/**
 * Every policy in the text, in order. Blank lines, '#' comments, xen-cpuid's
 * "maximum leaves" line and "not supported" lines are skipped; anything else that is
 * not a policy line is an error naming the line.
 */
export function parseXenCpuid(text: string, fileName = 'policy'): NamedPolicy[] {
  const out: NamedPolicy[] = [];
  let current: { name: string; leaves: CpuidEntry[]; msrs: MsrEntry[]; declaredLeaves: number; declaredMsrs: number } | undefined;
  let section: 'none' | 'cpuid' | 'msrs' = 'none';
  const finish = (): void => {
    if (current === undefined) return;
    out.push({
      name: current.name,
      policy: new CpuPolicy(current.leaves, current.msrs),
      declaredLeaves: current.declaredLeaves,
      declaredMsrs: current.declaredMsrs,
    });
    current = undefined;
  };
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trimEnd();
    const where = `${fileName}:${i + 1}`;
    if (line.trim() === '' || line.trimStart().startsWith('#') || MAXIMUM.test(line) || NOT_SUPPORTED.test(line)) return;
    const header = HEADER.exec(line);
    if (header) {
      finish();
      current = { name: header[1]!.trim(), leaves: [], msrs: [], declaredLeaves: Number(header[2]), declaredMsrs: Number(header[3]) };
      section = 'none';
      return;
    }
    if (current === undefined) throw new UsageError(`${where}: expected "<name> policy: N leaves, M MSRs", found ${JSON.stringify(line.trim())}`);
    if (CPUID_TITLE.test(line)) {
      section = 'cpuid';
      return;
    }
    if (MSRS_TITLE.test(line)) {
      section = 'msrs';
      return;
    }
    if (CPUID_COLUMNS.test(line) || MSR_COLUMNS.test(line)) return;
    if (section === 'cpuid') {
      const m = LEAF_LINE.exec(line);
      if (!m) throw new UsageError(`${where}: expected a CPUID line "llllllll:ssssssss -> aaaaaaaa:bbbbbbbb:cccccccc:dddddddd", found ${JSON.stringify(line.trim())}`);
      const [leaf, subleaf, eax, ebx, ecx, edx] = m.slice(1, 7).map((h) => parseInt(h!, 16) >>> 0) as [number, number, number, number, number, number];
      current.leaves.push({ leaf, subleaf, eax, ebx, ecx, edx });
      return;
    }
    if (section === 'msrs') {
      const m = MSR_LINE.exec(line);
      if (!m) throw new UsageError(`${where}: expected an MSR line "iiiiiiii -> vvvvvvvvvvvvvvvv", found ${JSON.stringify(line.trim())}`);
      current.msrs.push({ index: parseInt(m[1]!, 16) >>> 0, flags: 0, value: BigInt(`0x${m[2]}`) });
      return;
    }
    throw new UsageError(`${where}: expected " CPUID:" or " MSRs:" after the policy header, found ${JSON.stringify(line.trim())}`);
  });
  finish();
  return out;
}

const h8 = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/**
 * One policy exactly as xen-cpuid prints it. The header counts are the policy's own
 * entries unless the policy came from xen-cpuid text, whose counts are kept.
 */
export function formatXenCpuid(policy: CpuPolicy, name: string, declared?: { leaves?: number; msrs?: number }): string {
  const nrLeaves = Math.max(declared?.leaves ?? 0, policy.cpuid.length);
  const nrMsrs = Math.max(declared?.msrs ?? 0, policy.msrs.length);
  const lines = [
    `${name} policy: ${nrLeaves} leaves, ${nrMsrs} MSRs`,
    ' CPUID:',
    `  ${'leaf'.padEnd(8)} ${'subleaf'.padEnd(8)} -> ${'eax'.padEnd(8)} ${'ebx'.padEnd(8)} ${'ecx'.padEnd(8)} ${'edx'.padEnd(8)}`,
  ];
  for (const l of policy.cpuid) {
    if (l.eax === 0 && l.ebx === 0 && l.ecx === 0 && l.edx === 0) continue;
    lines.push(`  ${h8(l.leaf)}:${h8(l.subleaf)} -> ${h8(l.eax)}:${h8(l.ebx)}:${h8(l.ecx)}:${h8(l.edx)}`);
  }
  lines.push(' MSRs:', `  ${'index'.padEnd(8)} -> ${'value'.padEnd(16)}`);
  for (const m of policy.msrs) lines.push(`  ${h8(m.index)} -> ${m.value.toString(16).padStart(16, '0')}`);
  return lines.join('\n') + '\n';
}

/** Several policies, one after another, as xen-cpuid prints the system policies. */
export function formatXenCpuidPolicies(policies: readonly NamedPolicy[]): string {
  return policies
    .map((p) => formatXenCpuid(p.policy, p.name, { leaves: p.declaredLeaves, msrs: p.declaredMsrs }))
    .join('');
}
