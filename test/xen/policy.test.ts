/**
 * xenmig's policy code against Xen's own (Debian's libxenguest 4.17, through
 * test/xen/policy-helper.c), on the sample policies and on seeded random ones:
 * - loading: xenmig refuses exactly the policies Xen's deserialiser refuses;
 * - records: xenmig's serialisation is byte for byte Xen's, in whatever order the
 *   entries came, and Xen reads it back to the same bytes;
 * - compatibility: xenmig is never more lenient than xc_cpu_policy_is_compatible; where
 *   it is stricter, every reason is one of the kinds it documents as such;
 * - deep dependencies: xenmig's closure is Xen's, and every levelled policy passes
 *   Xen's deep-dependency rules with nothing left out of range.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CpuidEntry, MsrEntry } from '../../src/format/records.js';
import { Prng } from '../../src/domain/simulated/prng.js';
import {
  CpuPolicy,
  NO_SUBLEAF,
  SAMPLE_HOSTS,
  STRICTER_THAN_XEN,
  checkCompatibility,
  levelPoliciesDetailed,
  loadProblems,
  sampleHostPolicies,
  samplePolicies,
  serialisePolicy,
  xenFacts,
} from '../../src/policy/index.js';
import { HELPER_XEN_VERSION, PolicyHelper, cpuidHex, msrHex } from '../support/xen-policy.js';
import { xenDoubleGate } from '../support/xen-double.js';

const XEN = HELPER_XEN_VERSION;
const SEED = Number(process.env.XENMIG_POLICY_SEED ?? 0x5eed17);
const PAIRS = Number(process.env.XENMIG_POLICY_PAIRS ?? 3000);

const VENDORS = {
  Intel: [0x756e6547, 0x6c65746e, 0x49656e69],
  AMD: [0x68747541, 0x444d4163, 0x69746e65],
} as const;

/**
 * A random policy: mostly in Xen's tables (with the leaves Xen keeps by subleaf, varied
 * maximum leaves, cache/topology terminators, XSAVE components), sometimes with one
 * thing Xen cannot load, its entries sometimes shuffled.
 */
function randomPolicy(r: Prng, vendor: keyof typeof VENDORS, wild: boolean): CpuPolicy {
  const u32 = (): number => r.next();
  const pick = <T>(xs: readonly T[]): T => xs[r.below(xs.length)]!;
  const sparse = (): number => (u32() & u32() & u32()) >>> 0;
  const [b, c, d] = VENDORS[vendor];
  const maxBasic = pick([0, 1, 4, 7, 0xb, 0xd, 0xd, 0xd, 0xd, 0x16]);
  const e: CpuidEntry[] = [];
  const add = (leaf: number, subleaf: number, eax: number, ebx: number, ecx: number, edx: number): void => {
    e.push({ leaf: leaf >>> 0, subleaf: subleaf >>> 0, eax: eax >>> 0, ebx: ebx >>> 0, ecx: ecx >>> 0, edx: edx >>> 0 });
  };
  add(0, NO_SUBLEAF, maxBasic, b, c, d);
  add(1, NO_SUBLEAF, u32(), u32(), u32(), u32());
  for (let s = 0, n = r.below(7); s < n; s++) add(4, s, s === n - 1 ? u32() & ~0x1f : (u32() & ~0x1f) | (1 + r.below(3)), u32(), u32(), u32());
  const maxSub = pick([0, 0, 1, 2, 3]);
  for (let s = 0; s <= Math.min(maxSub, 2); s++) add(7, s, s === 0 ? maxSub : sparse(), u32(), u32(), u32());
  for (let s = 0, n = r.below(3); s < n; s++) add(0xb, s, u32(), u32(), s === n - 1 ? u32() & ~0xff00 : (u32() & ~0xff00) | 0x100, u32());
  const xcr0 = r.below(4) === 0 ? 0 : (3 | (sparse() & 0x2fc)) >>> 0;
  const xss = r.below(4) === 0 ? (sparse() & 0x1c00) >>> 0 : 0;
  add(0xd, 0, xcr0, u32() & 0xffff, u32() & 0xffff, 0);
  add(0xd, 1, sparse(), u32() & 0xffff, xss, 0);
  for (let s = 2; s < 14; s++) if (((xcr0 | xss) >>> s) & 1) add(0xd, s, u32() & 0xfff, u32() & 0xfff, u32() & 3, 0);
  add(0xa, NO_SUBLEAF, u32(), u32(), u32(), u32());
  const maxExt = pick([0, 0x80000000, 0x80000001, 0x80000008, 0x80000008, 0x8000001f, 0x80000021]);
  add(0x80000000, NO_SUBLEAF, maxExt, b, c, d);
  for (const l of [0x80000001, 0x80000007, 0x80000008, 0x80000021]) if (r.below(4) !== 0) add(l, NO_SUBLEAF, u32(), u32(), u32(), u32());
  if (r.below(3) === 0) add(0x40000000, NO_SUBLEAF, 0x40000000 + r.below(0x200), 0, 0, 0);
  const msrs: MsrEntry[] = [];
  if (r.below(6) !== 0) msrs.push({ index: 0xce, flags: 0, value: BigInt((u32() & 0x80000000) >>> 0) });
  if (r.below(6) !== 0) msrs.push({ index: 0x10a, flags: 0, value: (BigInt(sparse()) << 32n) | BigInt(u32()) });
  if (wild) {
    switch (r.below(11)) {
      case 0: add(0x14, NO_SUBLEAF, 1, 0, 0, 0); break;
      case 1: add(0x40000001, NO_SUBLEAF, 0x40011, 0, 0, 0); break;
      case 2: add(7, 3, 0, 1, 0, 0); break;
      case 3: add(4, 9, 0x121, 0, 0, 0); break;
      case 4: add(0x80000022, NO_SUBLEAF, 1, 0, 0, 0); break;
      case 5: add(1, 0, 1, 0, 0, 0); break;
      case 6: add(7, NO_SUBLEAF, 0, 1, 0, 0); break;
      case 7: msrs.push({ index: 0x123, flags: 0, value: 1n }); break;
      case 8: msrs.push({ index: 0xce, flags: 0, value: 1n << 40n }); break;
      case 9: msrs.splice(0, msrs.length, { index: 0xce, flags: 0, value: 0n }, { index: 0x10a, flags: 0, value: 0n }, { index: 0xce, flags: 0, value: 0n }); break;
      default: msrs.push({ index: 0x10a, flags: 1, value: 0n }); break;
    }
  }
  if (r.below(2) === 0) {
    for (let i = e.length - 1; i > 0; i--) {
      const j = r.below(i + 1);
      [e[i], e[j]] = [e[j]!, e[i]!];
    }
  }
  return new CpuPolicy(e, msrs);
}

/** A guest drawn from a host: a few feature and limit changes, sometimes a stranger. */
function guestOf(r: Prng, host: CpuPolicy): CpuPolicy {
  const e = host.cpuid.map((x) => ({ ...x }));
  for (let i = 0, n = r.below(4); i < n && e.length > 0; i++) {
    const x = e[r.below(e.length)]!;
    const reg = (['eax', 'ebx', 'ecx', 'edx'] as const)[r.below(4)];
    x[reg] = (x[reg] ^ (1 << r.below(32))) >>> 0;
  }
  const msrs = host.msrs.map((m) => ({ ...m, value: r.below(4) === 0 ? m.value ^ (1n << BigInt(r.below(64))) : m.value }));
  return new CpuPolicy(e, msrs);
}

const gate = xenDoubleGate();

if (gate.skip) {
  test("xenmig's policy code against Xen's", { skip: gate.skip }, () => {});
} else {
  describe(`xenmig's policy code against Xen ${XEN}'s (Debian libxenguest)`, () => {
    let xen: PolicyHelper;
    before(async () => {
      xen = await PolicyHelper.start();
    });
    after(() => xen.stop());

    test("the deep dependencies xenmig derives from gen-cpuid.py's table are Xen's", async () => {
      const facts = xenFacts(XEN);
      const fs = facts.featureset;
      assert.equal(xen.featuresetWords, fs.words.length, 'featureset words');
      for (let f = 0; f < fs.words.length * 32; f++) {
        const answer = await xen.request(`deepdeps ${f}`);
        const name = fs.byPosition.get(f)?.name;
        const ours = name !== undefined ? facts.deepDeps.get(name) : undefined;
        if (answer === 'none') {
          assert.equal(ours, undefined, `${name}: xenmig has deep deps Xen has not`);
          continue;
        }
        const words = answer.split(' ').map((h) => parseInt(h, 16));
        const xenDeps: number[] = [];
        words.forEach((w, i) => {
          for (let bit = 0; bit < 32; bit++) if ((w >>> bit) & 1) xenDeps.push(i * 32 + bit);
        });
        assert.deepEqual(ours ?? [], xenDeps, `deep deps of ${name ?? f}`);
      }
    });

    test('the sample policies: Xen loads them, and xenmig writes the bytes Xen writes', async () => {
      const all = [...SAMPLE_HOSTS.flatMap((h) => sampleHostPolicies(h).map((p) => [`${h} ${p.name}`, p.policy] as const)), ['guest hvm', samplePolicies.hvm] as const, ['guest pv', samplePolicies.pv] as const];
      for (const [name, p] of all) {
        assert.deepEqual(loadProblems(p, XEN), [], name);
        const x = await xen.serialise(p.cpuid, p.msrs);
        assert.ok(x.ok, `${name}: Xen refused it: ${x.ok ? '' : x.answer}`);
        const ours = serialisePolicy(p, XEN);
        assert.equal(cpuidHex(ours.cpuid), x.cpuid, `${name}: CPUID record`);
        assert.equal(msrHex(ours.msrs), x.msrs, `${name}: MSR record`);
        assert.equal(await xen.request(`deps ${x.cpuid} ${x.msrs}`), 'ok', `${name}: Xen's deep-dependency rules`);
      }
    });

    test(`${PAIRS} seeded random policy pairs (seed ${SEED}): load, records, compatibility, levelling`, async (t) => {
      const r = new Prng(SEED);
      const tally = { pairs: 0, loaded: 0, refused: 0, xenCompatible: 0, xenIncompatible: 0, stricter: 0, levelled: 0, stricterKinds: new Map<string, number>(), refusedKinds: new Map<string, number>() };
      const pending: Array<Promise<void>> = [];
      const loadable: CpuPolicy[] = [];
      for (let i = 0; i < PAIRS; i++) {
        const vendor = r.below(2) === 0 ? 'Intel' : 'AMD';
        const host = randomPolicy(r, vendor, false);
        const guest = r.below(3) === 0 ? randomPolicy(r, r.below(8) === 0 ? (vendor === 'Intel' ? 'AMD' : 'Intel') : vendor, r.below(4) === 0) : guestOf(r, host);
        tally.pairs++;
        pending.push(
          (async () => {
            // Loading and records.
            for (const p of [host, guest]) {
              const x = await xen.serialise(p.cpuid, p.msrs);
              const ours = loadProblems(p, XEN);
              assert.equal(ours.length === 0, x.ok, `load: Xen ${x.ok ? 'loads' : `refuses (${(x as { answer: string }).answer})`}, xenmig says ${ours.map((o) => o.text).join('; ') || 'it loads'}\n${cpuidHex(p.cpuid)} ${msrHex(p.msrs)}`);
              if (!x.ok) {
                tally.refused++;
                const kind = ours[0]!.kind;
                tally.refusedKinds.set(kind, (tally.refusedKinds.get(kind) ?? 0) + 1);
                continue;
              }
              tally.loaded++;
              if (p === host) loadable.push(p);
              const s = serialisePolicy(p, XEN);
              assert.equal(cpuidHex(s.cpuid), x.cpuid, `CPUID record of ${cpuidHex(p.cpuid)}`);
              assert.equal(msrHex(s.msrs), x.msrs, `MSR record of ${msrHex(p.msrs)}`);
              const again = await xen.serialise(s.cpuid, s.msrs);
              assert.ok(again.ok && again.cpuid === x.cpuid && again.msrs === x.msrs, 'round trip through Xen');
            }
            // Compatibility.
            const verdict = await xen.request(`compat ${cpuidHex(host.cpuid)} ${msrHex(host.msrs)} ${cpuidHex(guest.cpuid)} ${msrHex(guest.msrs)}`);
            if (verdict === 'host-refused') return;
            const ours = checkCompatibility(guest, host, { xen: XEN });
            if (verdict === 'guest-refused') {
              assert.ok(ours.reasons.some((x) => x.kind === 'xen-cannot-load'), 'Xen cannot load the guest; xenmig must say so');
            } else if (verdict === 'incompatible') {
              tally.xenIncompatible++;
              assert.equal(ours.compatible, false, `Xen refuses the guest, xenmig lets it through\n${cpuidHex(guest.cpuid)}\n${cpuidHex(host.cpuid)}`);
            } else {
              assert.equal(verdict, 'compatible');
              tally.xenCompatible++;
              if (!ours.compatible) {
                tally.stricter++;
                for (const x of ours.reasons) {
                  assert.ok(STRICTER_THAN_XEN.includes(x.kind), `xenmig stricter than Xen by an undocumented kind: ${x.kind}: ${x.text}`);
                  tally.stricterKinds.set(x.kind, (tally.stricterKinds.get(x.kind) ?? 0) + 1);
                }
              }
            }
          })(),
        );
      }
      await Promise.all(pending);
      // Levelling: pools of two or three loadable hosts of one vendor.
      const levels: Array<Promise<void>> = [];
      for (let i = 0; i + 2 < loadable.length && levels.length < PAIRS / 3; i += 3) {
        const pool = loadable.slice(i, i + 1 + r.below(3)).filter((p) => p.vendorId === loadable[i]!.vendorId);
        const { policy, removed } = levelPoliciesDetailed(pool, { xen: XEN });
        tally.levelled++;
        levels.push(
          (async () => {
            assert.deepEqual(loadProblems(policy, XEN), [], 'a levelled policy loads');
            const answer = await xen.request(`deps ${cpuidHex(policy.cpuid)} ${msrHex(policy.msrs)}`);
            assert.equal(answer, 'ok', `levelled policy fails Xen's rules (${answer}); xenmig removed ${removed.map((h) => h.feature).join(', ')}\n${cpuidHex(policy.cpuid)} ${msrHex(policy.msrs)}`);
          })(),
        );
      }
      await Promise.all(levels);
      t.diagnostic(
        `pairs ${tally.pairs}: policies Xen loads ${tally.loaded}, refuses ${tally.refused} (xenmig agrees on every one; first reasons: ${[...tally.refusedKinds].map(([k, n]) => `${k} ${n}`).join(', ')}); ` +
          `Xen compatible ${tally.xenCompatible} (xenmig stricter on ${tally.stricter}: ${[...tally.stricterKinds].map(([k, n]) => `${k} ${n}`).join(', ')}), ` +
          `Xen incompatible ${tally.xenIncompatible} (xenmig too on all); levelled pools ${tally.levelled}, all pass Xen's deep-dependency rules`,
      );
    });
  });
}
