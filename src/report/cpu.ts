/**
 * The CPU policy section: the stream's X86_CPUID_POLICY / X86_MSR_POLICY as features by
 * featureset word, and, given a host policy, what `compat` says of the move: the
 * reasons that block it and the features Xen would hide (strip) from the guest.
 */
import type { GuestType } from '../format/constants.js';
import type { CpuidEntry, MsrEntry } from '../format/records.js';
import { checkCompatibility, type Reason } from '../policy/compat.js';
import { summarizePolicy, type WordSummary } from '../policy/describe.js';
import { loadPolicyFile } from '../policy/load.js';
import { CpuPolicy } from '../policy/policy.js';
import { xenVersionForStream } from '../policy/xen-versions.js';

export interface CpuHostVerdict {
  /** The file and the policy in it that was judged against. */
  file: string;
  policy: string;
  /** The Xen version whose tables judged. */
  xen: string;
  compatible: boolean;
  reasons: Reason[];
  /** Features Xen would hide from the guest on that host (never blocking). */
  stripped: Reason[];
}

export interface CpuSection {
  present: boolean;
  leaves: number;
  msrs: number;
  vendor?: string;
  brand?: string;
  signature?: string;
  featureCount?: number;
  words: WordSummary[];
  msrList: { index: string; name: string; value: string; bits: string[] }[];
  host?: CpuHostVerdict;
  /** A host was given but the stream has no policy to judge. */
  note?: string;
}

export interface CpuInput {
  cpuid: CpuidEntry[];
  msrs: MsrEntry[];
  guestType: GuestType | undefined;
  xenMajor: number;
  xenMinor: number;
}

export interface CpuOptions {
  /** A host policy file (xen-cpuid -p output or xenmig JSON). */
  host?: string;
  /** Which policy of that file (default: by guest type, as `compat`). */
  hostPolicyName?: string;
}

export function cpuSection(input: CpuInput, opts: CpuOptions = {}): CpuSection {
  if (input.cpuid.length === 0) {
    const s: CpuSection = { present: false, leaves: 0, msrs: input.msrs.length, words: [], msrList: [] };
    if (opts.host !== undefined) s.note = 'no policy in the stream; the destination will regenerate one, so nothing can be judged';
    return s;
  }
  const policy = new CpuPolicy(input.cpuid, input.msrs);
  const sum = summarizePolicy(policy);
  const section: CpuSection = {
    present: true,
    leaves: input.cpuid.length,
    msrs: input.msrs.length,
    vendor: sum.vendor,
    signature: sum.signature,
    featureCount: sum.featureCount,
    words: sum.words,
    msrList: sum.msrs,
  };
  if (sum.brand !== undefined) section.brand = sum.brand;
  if (opts.host !== undefined) {
    const host = loadPolicyFile(opts.host, { policyName: opts.hostPolicyName, guestType: input.guestType ?? 'hvm' });
    const xen = input.xenMajor > 0 ? xenVersionForStream(input.xenMajor, input.xenMinor).version : undefined;
    const r = checkCompatibility(policy, host.policy, xen !== undefined ? { xen } : {});
    section.host = { file: opts.host, policy: host.name, xen: r.xen, compatible: r.compatible, reasons: r.reasons, stripped: r.warnings };
  }
  return section;
}
