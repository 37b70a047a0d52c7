/**
 * The receiver's static-data check, the same for the preflight and for STATIC_DATA_END
 * of the real stream: the stream version against a minimum, and the guest's CPU policy
 * against this host's: whether this host's Xen could load it at all, then feature bit by
 * feature bit (src/policy). Returns the reasons to refuse; none means accept.
 */
import { ByteReader } from '../io/byte-reader.js';
import { BufferRawSource } from '../io/raw-source.js';
import { readStream } from '../stream/reader.js';
import { MISSING_CPUID, MISSING_MSR, StaticDataTracker, type StaticData } from '../stream/static-data.js';
import type { LibxcHeaderItem } from '../stream/items.js';
import { guestTypeOf } from '../format/constants.js';
import { StreamFormatError } from '../format/errors.js';
import { checkCompatibility } from '../policy/compat.js';
import { selectPolicy } from '../policy/load.js';
import type { NamedPolicy } from '../policy/xen-cpuid.js';

export interface StaticCheckOptions {
  /** This host's policies (one file may hold several: "HVM Max", "PV Max"...). */
  hostPolicies?: readonly NamedPolicy[];
  /** A policy name to use from hostPolicies, instead of the Max policy for the guest type. */
  hostPolicyName?: string;
  minVersion?: number;
  /** This host's Xen version: what it can load (default: the newest xenmig knows). */
  xen?: string;
}

export function judgeStaticData(data: StaticData, opts: StaticCheckOptions): string[] {
  const reasons: string[] = [];
  const min = opts.minVersion ?? 2;
  if (data.streamVersion < min) {
    reasons.push(`stream version ${data.streamVersion} is older than the minimum ${min} this receiver accepts`);
  }
  if (data.guestType === undefined) reasons.push('the domain header names no guest type this receiver can run');
  if (opts.hostPolicies && opts.hostPolicies.length > 0 && data.guestType !== undefined) {
    if (data.cpuid === undefined) {
      // libxl regenerates a policy for a guest that brought none (pre-4.14 behaviour): nothing to compare.
      return reasons;
    }
    const host = selectPolicy(opts.hostPolicies, { policyName: opts.hostPolicyName, guestType: data.guestType }, 'host policy');
    const result = checkCompatibility({ cpuid: data.cpuid, msrs: data.msrs ?? [] }, host.policy, { xen: opts.xen });
    for (const r of result.reasons) reasons.push(`CPU policy (host "${host.name}"): ${r.text}`);
  }
  return reasons;
}

/** The preflight's stream (headers, static records, STATIC_DATA_END, END) to its static data. */
export async function staticDataOf(bytes: Uint8Array): Promise<StaticData> {
  const tracker = new StaticDataTracker();
  let header: LibxcHeaderItem | undefined;
  for await (const item of readStream(new ByteReader(new BufferRawSource(bytes, 'preflight')), { format: 'libxc' })) {
    if (item.kind === 'libxc-header') header = item;
    const end = tracker.push(item);
    if (end) return end.data;
  }
  if (header !== undefined && header.image.version < 3) {
    // A v2 stream has no marker, and without memory nothing implies one: all it has is its header.
    return {
      streamVersion: header.image.version,
      guestType: guestTypeOf(header.domain.type),
      xenMajor: header.domain.xenMajor,
      xenMinor: header.domain.xenMinor,
      missing: MISSING_CPUID | MISSING_MSR,
    };
  }
  throw new StreamFormatError('the preflight stream ended without STATIC_DATA_END');
}
