/**
 * xenmig's own policy file: JSON holding one or more named policies as the raw entries
 * the stream records carry (hex strings, so 64-bit MSR values survive JSON), with an
 * optional decoded view that readers ignore. `policy show --json` and
 * `policy level --json` both write this shape, so their output is a policy file too.
 */
import { UsageError } from '../format/errors.js';
import type { CpuidEntry, MsrEntry } from '../format/records.js';
import { CpuPolicy } from './policy.js';
import type { NamedPolicy } from './xen-cpuid.js';

export const POLICY_JSON_FORMAT = 'xenmig-cpu-policy';
export const POLICY_JSON_VERSION = 1;

export interface PolicyJsonEntry {
  name: string;
  cpuid: Array<{ leaf: string; subleaf: string; eax: string; ebx: string; ecx: string; edx: string }>;
  msrs: Array<{ index: string; flags: string; value: string }>;
  decoded?: unknown;
}

export interface PolicyJsonFile {
  format: typeof POLICY_JSON_FORMAT;
  version: number;
  policies: PolicyJsonEntry[];
}

const hex = (n: number, width = 8): string => `0x${(n >>> 0).toString(16).padStart(width, '0')}`;

export function policyToJsonEntry(name: string, policy: CpuPolicy, decoded?: unknown): PolicyJsonEntry {
  const entry: PolicyJsonEntry = {
    name,
    cpuid: policy.cpuid.map((e) => ({
      leaf: hex(e.leaf),
      subleaf: hex(e.subleaf),
      eax: hex(e.eax),
      ebx: hex(e.ebx),
      ecx: hex(e.ecx),
      edx: hex(e.edx),
    })),
    msrs: policy.msrs.map((m) => ({ index: hex(m.index), flags: hex(m.flags), value: `0x${m.value.toString(16).padStart(16, '0')}` })),
  };
  if (decoded !== undefined) entry.decoded = decoded;
  return entry;
}

export function policiesToJson(policies: ReadonlyArray<{ name: string; policy: CpuPolicy; decoded?: unknown }>): PolicyJsonFile {
  return {
    format: POLICY_JSON_FORMAT,
    version: POLICY_JSON_VERSION,
    policies: policies.map((p) => policyToJsonEntry(p.name, p.policy, p.decoded)),
  };
}

function num32(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  if (typeof v === 'string' && /^(0x)?[0-9a-fA-F]{1,8}$/.test(v)) return parseInt(v.replace(/^0x/, ''), 16) >>> 0;
  throw new UsageError(`${what}: expected a 32-bit number or hex string, found ${JSON.stringify(v)}`);
}

function num64(v: unknown, what: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^(0x)?[0-9a-fA-F]{1,16}$/.test(v)) return BigInt(`0x${v.replace(/^0x/, '')}`);
  throw new UsageError(`${what}: expected a 64-bit hex string, found ${JSON.stringify(v)}`);
}

function entryFromJson(raw: unknown, where: string, index: number): NamedPolicy {
  if (typeof raw !== 'object' || raw === null) throw new UsageError(`${where}: policy #${index} is not an object`);
  const o = raw as Record<string, unknown>;
  const name = typeof o.name === 'string' ? o.name : `Policy ${index}`;
  const at = `${where}: policy ${JSON.stringify(name)}`;
  if (!Array.isArray(o.cpuid)) throw new UsageError(`${at}: "cpuid" must be an array of leaves`);
  const cpuid: CpuidEntry[] = o.cpuid.map((l: Record<string, unknown>, i: number) => ({
    leaf: num32(l?.leaf, `${at} cpuid[${i}].leaf`),
    subleaf: num32(l?.subleaf ?? 0xffffffff, `${at} cpuid[${i}].subleaf`),
    eax: num32(l?.eax, `${at} cpuid[${i}].eax`),
    ebx: num32(l?.ebx, `${at} cpuid[${i}].ebx`),
    ecx: num32(l?.ecx, `${at} cpuid[${i}].ecx`),
    edx: num32(l?.edx, `${at} cpuid[${i}].edx`),
  }));
  const rawMsrs = o.msrs ?? [];
  if (!Array.isArray(rawMsrs)) throw new UsageError(`${at}: "msrs" must be an array`);
  const msrs: MsrEntry[] = rawMsrs.map((m: Record<string, unknown>, i: number) => ({
    index: num32(m?.index, `${at} msrs[${i}].index`),
    flags: num32(m?.flags ?? 0, `${at} msrs[${i}].flags`),
    value: num64(m?.value, `${at} msrs[${i}].value`),
  }));
  return { name, policy: new CpuPolicy(cpuid, msrs) };
}

/** Policies from xenmig JSON: a policy file, or a single policy object. */
export function parsePolicyJson(text: string, where = 'policy'): NamedPolicy[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${where}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null) throw new UsageError(`${where}: expected a JSON object`);
  const o = doc as Record<string, unknown>;
  if (Array.isArray(o.policies)) {
    if (o.format !== undefined && o.format !== POLICY_JSON_FORMAT) {
      throw new UsageError(`${where}: format ${JSON.stringify(o.format)} is not ${POLICY_JSON_FORMAT}`);
    }
    return o.policies.map((p, i) => entryFromJson(p, where, i));
  }
  if (Array.isArray(o.cpuid)) return [entryFromJson(o, where, 0)];
  throw new UsageError(`${where}: expected {"format": "${POLICY_JSON_FORMAT}", "policies": [...]}`);
}
