import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampleBytes } from '../support/sample.js';
import { sampleCpuid } from '../../src/domain/simulated/sample.js';
import fc from 'fast-check';
import { PfnSet } from '../../src/verify/index.js';
import { T, pageDataBody } from '../support/builder.js';
import { hvmRecords, libxcBytes, pvRecords, r, verifyBytes } from './streams.js';

test('summary of the sample domain: layers, versions, memory, vcpus, policies, static data end', async () => {
  const bytes = await sampleBytes({ memoryMiB: 2 });
  const { summary: s, conforming } = await verifyBytes(bytes);
  assert.equal(conforming, true);
  assert.deepEqual(s.layers, ['xl', 'libxl', 'libxc']);
  assert.deepEqual(s.xl, { bigEndian: false, configFormat: 'json', configBytes: s.xl!.configBytes, mandatoryFlags: 3 });
  assert.deepEqual(s.libxc, { version: 3, bigEndian: false, domainType: 2, guestType: 'hvm', pageShift: 12, xenMajor: 4, xenMinor: 19, convertedFromLegacy: false });
  // 512 pfns, the VGA hole's 32 (0xa0-0xbf) sent as XTAB: an HVM guest has no RAM there.
  assert.deepEqual(s.pagesByType, { NOTAB: 480, XTAB: 32 });
  assert.equal(s.pageDataRecords, 1);
  assert.equal(s.memoryBytes, 480 * 4096);
  assert.deepEqual(s.pfnRange, { min: 0, max: 511 });
  assert.deepEqual(s.vcpus, [0, 1]);
  assert.deepEqual(s.cpuidPolicy, { leaves: sampleCpuid('hvm').length });
  assert.deepEqual(s.msrPolicy, { msrs: 2 });
  assert.equal(s.staticDataEnd?.inferred, false);
  assert.equal(s.staticDataEnd?.recordIndex, 2);
  assert.equal(s.hvmParams, 8);
  // The device model's physmap entry for the VGA RAM: its start_addr and size.
  assert.deepEqual(s.libxl?.emulators.map((e) => [e.kind, e.emulatorId, e.keys]), [['xenstore', 2, 2], ['context', 2, undefined]]);
  assert.equal(s.bytes, bytes.length);
});

test('summary of a PV stream: page types, populated pfns, vcpu ids, PV info; resent pages count once in memory', async () => {
  const recs = pvRecords(2);
  const again = [...recs.slice(0, 3), r(T.PAGE_DATA, pageDataBody([{ pfn: 0 }, { pfn: 5, type: 15 }])), ...recs.slice(3)];
  const { summary: s } = await verifyBytes(libxcBytes(again, { version: 2, domainType: 1 }));
  assert.deepEqual(s.pagesByType, { NOTAB: 2, L1TAB: 1, L4TAB_PINNED: 1, XALLOC: 1, XTAB: 1 });
  assert.equal(s.pagesWithData, 4);
  assert.equal(s.populatedPfns, 4);
  assert.equal(s.memoryBytes, 4 * 4096);
  assert.deepEqual(s.vcpus, [0, 1]);
  assert.deepEqual(s.pvInfo, { guestWidth: 8, ptLevels: 4 });
  assert.deepEqual(s.staticDataEnd, { offset: 56, recordIndex: 1, inferred: true, inferredAt: 'X86_PV_P2M_FRAMES' });
  assert.equal(s.cpuidPolicy, undefined);
});

test('summary counts errors and warnings', async () => {
  const recs = hvmRecords();
  const { summary } = await verifyBytes(libxcBytes([...recs.slice(0, 4), r(T.TOOLSTACK), r(0x80000077), ...recs.slice(4)]));
  assert.equal(summary.errors, 1);
  assert.equal(summary.warnings, 1);
});

test('PfnSet counts distinct pfns and stops growing past its chunk limit', () => {
  const set = new PfnSet(2);
  for (const p of [0, 1, 1, 32767, 32768, 2 ** 40]) set.add(p);
  assert.equal(set.size, 4);
  assert.equal(set.overflowed, true);
});

test('PfnSet.addRun counts exactly what adding pfn by pfn counts', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ first: fc.nat(3 * 2 ** 15), count: fc.nat(300) }), { maxLength: 12 }), fc.constantFrom(2, 4096), (runs, maxChunks) => {
      const byRun = new PfnSet(maxChunks);
      const byPfn = new PfnSet(maxChunks);
      for (const { first, count } of runs) {
        byRun.addRun(first, count);
        for (let p = first; p < first + count; p++) byPfn.add(p);
      }
      assert.equal(byRun.size, byPfn.size);
      assert.equal(byRun.overflowed, byPfn.overflowed);
    }),
  );
});
