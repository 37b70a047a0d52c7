/**
 * The CPU policy a migration stream carries: its X86_CPUID_POLICY and X86_MSR_POLICY
 * records, read from the static part only (everything before STATIC_DATA_END, or before
 * the first memory record of a v2 stream), so a multi-gigabyte save file is judged
 * after reading a few hundred octets.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { REC_TYPE, guestTypeOf, type GuestType } from '../format/constants.js';
import { DYNAMIC_RECORDS } from '../format/records.js';
import { IoError, StreamFormatError } from '../format/errors.js';
import { type CpuidEntry, type MsrEntry, decodeRecord } from '../format/records.js';
import { detectLayer } from '../stream/detect.js';
import { openStream } from '../stream/open.js';
import { inferGuestType, loadPolicyFile } from './load.js';
import { CpuPolicy } from './policy.js';

/** What to say about a stream without policy records: libxl regenerates one on restore. */
export const NO_POLICY_MESSAGE = 'no policy in the stream; the destination will regenerate one';

export interface StreamPolicy {
  guestType: GuestType;
  /** libxc stream version (2 or 3). */
  streamVersion: number;
  /** Undefined when the stream carries no CPUID policy record. */
  policy?: CpuPolicy;
  hasCpuid: boolean;
  hasMsrs: boolean;
  /** The Xen version the libxc header names (the Xen that wrote the stream). */
  xenMajor: number;
  xenMinor: number;
}

/** Whether a file starts like a Xen stream (xl, libxl or libxc) rather than a policy file. */
export function isStreamFile(path: string): boolean {
  if (path === '-') return true;
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new IoError(`${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const first = Buffer.alloc(8);
    const n = readSync(fd, first, 0, 8, 0);
    const layer = detectLayer(first.subarray(0, n));
    return layer === 'xl' || layer === 'libxl' || layer === 'libxc';
  } finally {
    closeSync(fd);
  }
}

export async function readStreamPolicy(pathOrDash: string): Promise<StreamPolicy> {
  const opened = await openStream(pathOrDash, { pageContents: 'skip', expectEndOfInput: false });
  let guestType: GuestType | undefined;
  let streamVersion = 0;
  let xenMajor = 0;
  let xenMinor = 0;
  const cpuid: CpuidEntry[] = [];
  const msrs: MsrEntry[] = [];
  let hasCpuid = false;
  let hasMsrs = false;
  try {
    for await (const item of opened.items) {
      if (item.kind === 'libxc-header') {
        guestType = guestTypeOf(item.domain.type);
        streamVersion = item.image.version;
        xenMajor = item.domain.xenMajor;
        xenMinor = item.domain.xenMinor;
        if (guestType === undefined) {
          throw new StreamFormatError(`domain type ${item.domain.type} is neither x86 PV (1) nor x86 HVM (2)`, { offset: item.offset, layer: 'libxc' });
        }
        continue;
      }
      if (item.kind !== 'record' || item.layer !== 'libxc') continue;
      if (item.type === REC_TYPE.STATIC_DATA_END || item.type === REC_TYPE.END || DYNAMIC_RECORDS.has(item.type)) break;
      if (item.type !== REC_TYPE.X86_CPUID_POLICY && item.type !== REC_TYPE.X86_MSR_POLICY) continue;
      let rec;
      try {
        rec = decodeRecord(item.type, item.body, item.littleEndian);
      } catch (err) {
        if (err instanceof StreamFormatError) {
          throw new StreamFormatError(err.detail, { offset: item.offset, recordIndex: item.index, recordType: item.typeName, layer: 'libxc' });
        }
        throw err;
      }
      if ('unknown' in rec) continue;
      if (rec.type === REC_TYPE.X86_CPUID_POLICY) {
        hasCpuid = true;
        cpuid.push(...rec.entries);
      } else if (rec.type === REC_TYPE.X86_MSR_POLICY) {
        hasMsrs = true;
        msrs.push(...rec.entries);
      }
    }
  } finally {
    await opened.close();
  }
  if (guestType === undefined) throw new StreamFormatError(`${pathOrDash}: no libxc stream found`);
  const result: StreamPolicy = { guestType, streamVersion, hasCpuid, hasMsrs, xenMajor, xenMinor };
  if (hasCpuid) result.policy = new CpuPolicy(cpuid, msrs);
  return result;
}

export interface GuestPolicy {
  /** Where it came from: 'stream' or 'file'. */
  from: 'stream' | 'file';
  /** The policy's name in its file, or "stream" for a stream. */
  name: string;
  guestType: GuestType;
  /** Undefined for a stream without policy records (v2, or v3 without them). */
  policy?: CpuPolicy;
  streamVersion?: number;
  /** A stream's Xen version (its libxc header). */
  xenMajor?: number;
  xenMinor?: number;
}

/**
 * A guest's policy from a stream (any layer) or from a policy file. A file's guest type
 * is the one given, else inferred from the policy.
 */
export async function loadGuestPolicy(
  path: string,
  opts: { policyName?: string; guestType?: GuestType } = {},
): Promise<GuestPolicy> {
  if (isStreamFile(path)) {
    const s = await readStreamPolicy(path);
    const g: GuestPolicy = {
      from: 'stream',
      name: 'stream',
      guestType: s.guestType,
      streamVersion: s.streamVersion,
      xenMajor: s.xenMajor,
      xenMinor: s.xenMinor,
    };
    if (s.policy !== undefined) g.policy = s.policy;
    return g;
  }
  const named = loadPolicyFile(path, { policyName: opts.policyName });
  return { from: 'file', name: named.name, guestType: opts.guestType ?? inferGuestType(named.policy, named.name), policy: named.policy };
}
