import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RefusedError } from '../../src/format/errors.js';
import { CpuPolicy, checkCompatibility, featureset, levelPolicies, sampleHostPolicy } from '../../src/policy/index.js';
import { withFeature, withLeaf } from '../support/policy.js';

const INTEL = [
  sampleHostPolicy('intel-skylake-sp', 'HVM Max'),
  sampleHostPolicy('intel-icelake-sp', 'HVM Max'),
  sampleHostPolicy('intel-skylake-sp', 'HVM Default'),
  sampleHostPolicy('intel-icelake-sp', 'PV Max'),
];
const AMD = [sampleHostPolicy('amd-zen2-rome', 'HVM Max'), sampleHostPolicy('amd-zen3-milan', 'HVM Max'), sampleHostPolicy('amd-zen3-milan', 'PV Default')];
const NAMES = featureset().features.map((f) => f.name);

/** A host: a sample policy of one vendor with some features toggled and some limits lowered. */
const hostOf = (base: CpuPolicy[]) =>
  fc
    .record({
      base: fc.constantFrom(...base),
      toggles: fc.array(fc.tuple(fc.constantFrom(...NAMES), fc.boolean()), { maxLength: 12 }),
      maxExt: fc.option(fc.integer({ min: 0x80000008, max: 0x80000021 })),
      xsaveArea: fc.option(fc.integer({ min: 576, max: 4096 })),
    })
    .map(({ base: b, toggles, maxExt, xsaveArea }) => {
      let p = b;
      for (const [name, on] of toggles) p = withFeature(p, name, on);
      if (maxExt !== null) p = withLeaf(p, 0x80000000, 0xffffffff, { eax: maxExt });
      if (xsaveArea !== null) p = withLeaf(p, 0xd, 0, { ecx: xsaveArea });
      return p;
    });

const pool = fc.oneof(fc.array(hostOf(INTEL), { minLength: 1, maxLength: 4 }), fc.array(hostOf(AMD), { minLength: 1, maxLength: 4 }));

const same = (a: CpuPolicy, b: CpuPolicy): void => assert.deepEqual(a.toData(), b.toData());

test('levelling is commutative', () => {
  fc.assert(
    fc.property(pool, fc.nat(), (hosts, seed) => {
      const shuffled = [...hosts].sort((x, y) => ((hosts.indexOf(x) * 7919 + seed) % 13) - ((hosts.indexOf(y) * 7919 + seed) % 13));
      same(levelPolicies(hosts), levelPolicies(shuffled.reverse()));
    }),
    { numRuns: 60 },
  );
});

test('levelling is idempotent', () => {
  fc.assert(
    fc.property(pool, (hosts) => {
      const l = levelPolicies(hosts);
      same(levelPolicies([l]), l);
      same(levelPolicies([l, l]), l);
      same(levelPolicies([...hosts, l]), l);
    }),
    { numRuns: 60 },
  );
});

test('the levelled policy is compatible with every host it came from', () => {
  fc.assert(
    fc.property(pool, (hosts) => {
      const l = levelPolicies(hosts);
      for (const h of hosts) assert.deepEqual(checkCompatibility(l, h).reasons, []);
    }),
    { numRuns: 80 },
  );
});

test("'|' features accumulate while the rest intersect", () => {
  const [skx, icx] = [sampleHostPolicy('intel-skylake-sp', 'HVM Default'), sampleHostPolicy('intel-icelake-sp', 'HVM Default')];
  const a = withFeature(withFeature(skx, 'MD_CLEAR', true), 'FB_CLEAR', false);
  const b = withFeature(withFeature(icx, 'MD_CLEAR', false), 'FB_CLEAR', true);
  const l = levelPolicies([a, b]);
  assert.equal(l.hasFeature('MD_CLEAR'), true);
  assert.equal(l.hasFeature('FB_CLEAR'), true);
  assert.equal(l.hasFeature('AVX512_VBMI'), false);
  assert.equal(l.hasFeature('AVX512F'), true);
});

test('levelling lowers limits and drops XSAVE components not everywhere', () => {
  const skxMax = sampleHostPolicy('intel-skylake-sp', 'HVM Max');
  const icxDef = sampleHostPolicy('intel-icelake-sp', 'HVM Default');
  const l = levelPolicies([skxMax, icxDef]);
  assert.equal(l.maxExtendedLeaf, 0x80000008);
  assert.equal(l.maxFeatureSubleaf, 0);
  assert.equal(l.xsave.xcr0, 0x2e7n, 'MPX state only on Skylake');
  assert.deepEqual(l.xsave.components.map((c) => c.index), [2, 5, 6, 7, 9]);
  // Xen writes every subleaf up to the highest component, so 0xd:3 is there, and empty.
  assert.deepEqual(l.leaf(0xd, 3), { leaf: 0xd, subleaf: 3, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  assert.equal(l.signature.model, 0x55, 'the older signature');
  const brand = (p: CpuPolicy) => [2, 3, 4].map((i) => p.leaf(0x80000000 + i));
  assert.deepEqual(brand(l), brand(icxDef), 'the brand string comes whole from one host');
});

test('hosts of different vendors cannot be levelled', () => {
  assert.throws(
    () => levelPolicies([INTEL[0]!, AMD[0]!]),
    (err: unknown) => err instanceof RefusedError && err.message === 'cannot level hosts of different vendors (Intel, AMD)',
  );
  assert.throws(() => levelPolicies([]), RefusedError);
});
