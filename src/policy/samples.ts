/**
 * Policies shipped in data/policies: realistic hosts and the guests a simulated domain
 * carries. data/policies/README.md says where every number comes from.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { GuestType } from '../format/constants.js';
import { CpuPolicy } from './policy.js';
import { serialisePolicy } from './serialise.js';
import { type NamedPolicy, parseXenCpuid } from './xen-cpuid.js';

export const SAMPLE_HOSTS = ['intel-skylake-sp', 'intel-icelake-sp', 'amd-zen2-rome', 'amd-zen3-milan'] as const;
export type SampleHost = (typeof SAMPLE_HOSTS)[number];

/** Where a shipped policy file lives (compiled code runs from dist/src/policy). */
export function samplePolicyPath(file: string): string {
  return fileURLToPath(new URL(`../../../data/policies/${file}`, import.meta.url));
}

const cache = new Map<string, NamedPolicy[]>();

function load(file: string): NamedPolicy[] {
  let policies = cache.get(file);
  if (policies === undefined) {
    const path = samplePolicyPath(file);
    policies = parseXenCpuid(readFileSync(path, 'utf8'), path);
    cache.set(file, policies);
  }
  return policies;
}

/** Every policy xen-cpuid would print on one of the sample hosts (Host, PV/HVM Max, PV/HVM Default). */
export function sampleHostPolicies(host: SampleHost): NamedPolicy[] {
  return load(`${host}.txt`);
}

export function sampleHostPolicy(host: SampleHost, name: string): CpuPolicy {
  const found = sampleHostPolicies(host).find((p) => p.name === name);
  if (found === undefined) throw new Error(`data/policies/${host}.txt has no ${name} policy`);
  return found.policy;
}

const guests = new Map<GuestType, CpuPolicy>();

/**
 * The policy a guest created on the Skylake-SP sample host with default settings carries,
 * as Xen serialises it (every in-range leaf, zero ones too, then 0xce and 0x10a): what
 * libxc's save writes for it. The file, like xen-cpuid, omits the empty leaves.
 */
export function sampleGuestPolicy(guestType: GuestType): CpuPolicy {
  let p = guests.get(guestType);
  if (p === undefined) {
    const s = serialisePolicy(load(`sample-guest-${guestType}.txt`)[0]!.policy);
    guests.set(guestType, (p = new CpuPolicy(s.cpuid, s.msrs)));
  }
  return p;
}

export const samplePolicies = {
  get hvm(): CpuPolicy {
    return sampleGuestPolicy('hvm');
  },
  get pv(): CpuPolicy {
    return sampleGuestPolicy('pv');
  },
};
