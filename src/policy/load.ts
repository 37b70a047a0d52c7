/**
 * Policy files: xen-cpuid text or xenmig JSON, told apart by their content, and the
 * choice of one policy from a file that holds several.
 */
import { readFileSync } from 'node:fs';
import type { GuestType } from '../format/constants.js';
import { IoError, UsageError } from '../format/errors.js';
import { featureset } from './featureset.js';
import { parsePolicyJson } from './json.js';
import type { CpuPolicy } from './policy.js';
import { type NamedPolicy, looksLikeXenCpuid, parseXenCpuid } from './xen-cpuid.js';

export interface SelectOptions {
  /** A policy's name, e.g. "HVM Max" (case and spacing are not significant). */
  policyName?: string;
  /** Without a name, a file of several policies yields "HVM Max" or "PV Max". */
  guestType?: GuestType;
}

/** Every policy in a policy file's text, whichever of the two formats it is in. */
export function parsePolicyText(text: string, where = 'policy'): NamedPolicy[] {
  if (text.trimStart().startsWith('{')) return parsePolicyJson(text, where);
  if (looksLikeXenCpuid(text)) return parseXenCpuid(text, where);
  throw new UsageError(`${where}: neither xen-cpuid -p output nor a xenmig policy JSON file`);
}

const norm = (s: string): string => s.trim().replace(/\s+/g, ' ').toLowerCase();

export function selectPolicy(policies: readonly NamedPolicy[], opts: SelectOptions = {}, where = 'policy'): NamedPolicy {
  const names = policies.map((p) => JSON.stringify(p.name)).join(', ');
  if (policies.length === 0) throw new UsageError(`${where}: holds no policy`);
  if (opts.policyName !== undefined) {
    const found = policies.find((p) => norm(p.name) === norm(opts.policyName!));
    if (found === undefined) throw new UsageError(`${where}: no policy named ${JSON.stringify(opts.policyName)} (it holds ${names})`);
    return found;
  }
  if (policies.length === 1) return policies[0]!;
  if (opts.guestType !== undefined) {
    const wanted = opts.guestType === 'pv' ? 'PV Max' : 'HVM Max';
    const found = policies.find((p) => norm(p.name) === norm(wanted));
    if (found !== undefined) return found;
  }
  throw new UsageError(`${where}: holds ${policies.length} policies (${names}); choose one with --policy`);
}

export function readPolicyFile(path: string): NamedPolicy[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new IoError(`${path}: ${(err as Error).message}`, { cause: err });
  }
  return parsePolicyText(text, path);
}

/** One policy from a file: the only one, the one named, or the Max policy for the guest type. */
export function loadPolicyFile(path: string, opts: SelectOptions = {}): NamedPolicy {
  return selectPolicy(readPolicyFile(path), opts, path);
}

/**
 * Which kind of guest a policy was made for. Xen never offers a PV guest a feature
 * marked for HVM guests only ('S', 'H'), while HVM policies always carry some (VME,
 * PSE, MTRR, PGE...); a name such as "PV Default" settles it first.
 */
export function inferGuestType(policy: CpuPolicy, name?: string): GuestType {
  if (name !== undefined) {
    if (/^pv\b/i.test(name.trim())) return 'pv';
    if (/^hvm\b/i.test(name.trim())) return 'hvm';
  }
  const words = policy.words;
  const hvmOnly = featureset().features.some(
    (f) => (f.applicability === 'hvm' || f.applicability === 'hap') && ((words[f.word] ?? 0) & (1 << f.bit)) !== 0,
  );
  return hvmOnly ? 'hvm' : 'pv';
}
