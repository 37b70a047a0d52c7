/**
 * The README's library example, run as written (through the package entry): save a
 * simulated domain, verify the stream, restore it into a memory image with a
 * compatibility check at STATIC_DATA_END, and compare memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AtomicFileSink,
  MemoryImage,
  SimulatedDomain,
  checkCompatibility,
  loadPolicyFile,
  pagesZeroedOnRestore,
  restoreStream,
  sampleGuestPolicy,
  saveDomain,
  verifyStream,
} from '../src/index.js';
import { tmpDirFor } from './support/tmp.js';

test('library API: save -> verify -> restore with a policy check -> same memory', async (t) => {
  const dir = tmpDirFor(t, 'xenmig-api-');
  const domain = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 4, seed: 7, cpuPolicy: sampleGuestPolicy('hvm').toData() });
  const out = await AtomicFileSink.create(join(dir, 'vm.xl'));
  await saveDomain(domain, out, { layer: 'xl' });
  await out.commit();

  const verdict = await verifyStream(join(dir, 'vm.xl'));
  assert.equal(verdict.conforming, true);
  assert.equal(verdict.summary.libxc?.guestType, 'hvm');

  const host = loadPolicyFile(new URL('../../data/policies/intel-icelake-sp.txt', import.meta.url).pathname, { guestType: 'hvm' });
  const seen: number[] = [];
  const image = await MemoryImage.create(join(dir, 'image'));
  const result = await restoreStream(join(dir, 'vm.xl'), image, {
    minVersion: 3,
    staticDataDone: (missing, data) => {
      seen.push(missing);
      const { compatible, reasons } = checkCompatibility({ cpuid: data.cpuid, msrs: data.msrs }, host.policy);
      return compatible ? undefined : { refuse: reasons.map((r) => r.text).join('; ') };
    },
  });
  assert.deepEqual(seen, [0]);
  assert.equal(result.staticDataEnd?.inferred, false);

  // The xenstore and console rings and the ioreq pages come back zeroed, as libxc's restorer leaves them.
  const zeroed = pagesZeroedOnRestore(domain.hvmParams);
  assert.deepEqual(result.clearedPages, zeroed);
  assert.deepEqual(zeroed.map((z) => z.param), ['STORE_PFN', 'IOREQ_PFN', 'BUFIOREQ_PFN', 'CONSOLE_PFN']);
  const raw = readFileSync(join(dir, 'image', 'memory.raw'));
  for (const pfn of await domain.populatedPfns()) {
    const page = new Uint8Array(4096);
    if (!zeroed.some((z) => z.pfn === pfn)) await domain.readPages([pfn], page);
    assert.ok(Buffer.from(page).equals(raw.subarray(pfn * 4096, pfn * 4096 + 4096)), `pfn ${pfn} differs`);
  }
});
