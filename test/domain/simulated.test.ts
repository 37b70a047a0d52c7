import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimulatedDomain } from '../../src/domain/simulated/simulated-domain.js';

test('a fresh domain is reproducible from its seed and differs with another seed', () => {
  const a = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 2, seed: 5 });
  const b = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 2, seed: 5 });
  const c = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 2, seed: 6 });
  assert.ok(a.memory.equals(b.memory));
  assert.ok(!a.memory.equals(c.memory));
  assert.equal(a.memory.readUInt32LE(7 * 4096), 7, 'each page starts with its pfn');
  assert.deepEqual(a.hvmContext, b.hvmContext);
});

test('HVM has no RAM in the VGA hole; PV has page tables and its P2M', async () => {
  const h = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 1, seed: 1 });
  const pfns = await h.populatedPfns();
  assert.equal(pfns.length, 256 - 32);
  assert.deepEqual(await h.pageTypes([0x9f, 0xa0, 0xbf, 0xc0]), [0, 15, 15, 0]);
  const p = SimulatedDomain.create({ guest: 'pv', memoryMiB: 1, seed: 1 });
  assert.deepEqual(await p.pageTypes([0, 1, 2, 3, 4, 8]), [0, 12, 3, 2, 1, 0]);
  assert.deepEqual(p.p2mFrames, { startPfn: 0, endPfn: 255, p2mPfns: [255n] });
  assert.deepEqual(p.vcpuContexts.map((c) => `${c.vcpuId}:${c.kind}:${c.data.length}`), ['0:basic:5168', '0:extended:64', '0:xsave:848', '1:basic:5168', '1:extended:64', '1:xsave:848']);
});

test('the PV sample is a guest Xen restores: page tables name only its own pfns, tables mapped read-only, start info in vcpu 0\'s rdx', () => {
  const p = SimulatedDomain.create({ guest: 'pv', memoryMiB: 1, seed: 1 });
  const entry = (pfn: number, slot: number): bigint => p.memory.readBigUInt64LE(pfn * 4096 + slot * 8);
  // 0xffffffff80000000: L4 slot 511, L3 slot 510, L2 slots 0-3 -> the four L1s.
  assert.equal(entry(1, 511), (2n << 12n) | 0x27n);
  assert.equal(entry(2, 510), (3n << 12n) | 0x27n);
  assert.deepEqual([0, 1, 2, 3].map((i) => entry(3, i)), [4n, 5n, 6n, 7n].map((f) => (f << 12n) | 0x27n));
  let present = 0;
  for (let l1 = 4; l1 <= 7; l1++) {
    for (let i = 0; i < 512; i++) {
      const pte = entry(l1, i);
      if ((pte & 1n) === 0n) continue;
      present++;
      const pfn = Number((pte & 0x000ffffffffff000n) >> 12n);
      assert.ok(pfn < 256, `L1 pfn ${l1}[${i}] maps pfn ${pfn} beyond memory`);
      assert.equal((pte & 2n) !== 0n, pfn < 1 || pfn > 7, `pfn ${pfn}: writable only if not a page table`);
    }
  }
  assert.equal(present, 256);
  // Nothing but zeros in the tables' other slots.
  for (let i = 0; i < 511; i++) assert.equal(entry(1, i), 0n);
  const basic0 = Buffer.from(p.vcpuContexts[0]!.data);
  assert.equal(basic0.readBigUInt64LE(616), 8n); // rdx: the start info pfn
  assert.equal(basic0.readBigUInt64LE(4984 + 24), 1n << 12n); // cr3: the L4
  assert.equal(p.memory.toString('latin1', 8 * 4096, 8 * 4096 + 14), 'xen-3.0-x86_64');
  assert.equal(p.memory.readBigUInt64LE(8 * 4096 + 56), 9n); // store_mfn (a pfn in the stream)
  assert.equal(p.memory.readBigUInt64LE(8 * 4096 + 72), 10n); // console mfn
  assert.equal(p.memory.readBigUInt64LE(255 * 4096 + 200 * 8), 200n); // the P2M: identity on this host
});

test('a PV sample above 2 GiB lays out its start info (the P2M is named by its direct-map address, which cannot overflow)', async () => {
  const p = SimulatedDomain.create({ guest: 'pv', memoryMiB: 3072, seed: 1 });
  const si = Buffer.alloc(4096);
  await p.readPages([8], si);
  const p2mPfn = Number(p.p2mFrames!.p2mPfns[0]!);
  assert.ok(p2mPfn > 0x80000, 'the P2M sits above 2 GiB');
  assert.equal(si.readBigUInt64LE(104), 0xffff888000000000n + (BigInt(p2mPfn) << 12n));
});

test('dirty log: off until enabled, read-and-clear gives each pfn once in order, peek counts', async () => {
  const d = SimulatedDomain.create({ guest: 'pv', memoryMiB: 1, seed: 1 });
  d.touch(50, 1);
  const log = await d.enableDirtyLogging();
  assert.equal(await log.peek(), 0);
  for (const pfn of [90, 12, 90, 200, 12]) d.touch(pfn, pfn);
  assert.equal(await log.peek(), 3);
  assert.deepEqual(await log.readAndClear(), [12, 90, 200]);
  assert.deepEqual(await log.readAndClear(), []);
  d.balloonOut(33);
  assert.deepEqual(await log.readAndClear(), [33]);
  assert.deepEqual(await d.pageTypes([33]), [15]);
  d.touch(33, 9);
  assert.equal(await log.peek(), 0, 'a ballooned page takes no writes');
  await d.disableDirtyLogging();
});

test('the workload: same seed, same pages; the hot set takes most writes; it stops on suspend', async () => {
  const pick = (pattern: 'uniform' | 'hotset'): number[] => {
    const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 4, seed: 3, workload: { rate: 1, pattern } });
    const seen: number[] = [];
    const orig = d.touch.bind(d);
    d.touch = (pfn, v) => (seen.push(pfn), orig(pfn, v));
    d.workload!.burst(2000);
    return seen;
  };
  assert.deepEqual(pick('hotset'), pick('hotset'));
  const hot = pick('hotset');
  const distinctHot = new Set(hot).size;
  const distinctUniform = new Set(pick('uniform')).size;
  assert.ok(distinctHot < distinctUniform / 2, `${distinctHot} distinct pages under hotset vs ${distinctUniform} uniform`);

  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 1, seed: 3, workload: { rate: 100_000, tickMs: 1 } });
  d.start();
  await new Promise((r) => setTimeout(r, 30));
  await d.suspend();
  const n = d.workload!.written;
  assert.ok(n > 0);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(d.workload!.written, n);
  assert.equal(d.running, false);
  d.destroy();
});

test('1 GiB is one allocation and quick to create', () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 1024, seed: 1 });
  assert.equal(d.maxPfn, 262144);
  assert.equal(d.memory.length, 1 << 30);
  assert.equal(d.memory.readUInt32LE(262143 * 4096), 262143);
});

test('fromSource copies memory, types and contexts of another domain', async () => {
  const a = SimulatedDomain.create({ guest: 'pv', memoryMiB: 1, seed: 9 });
  const b = await SimulatedDomain.fromSource(a);
  assert.ok(b.memory.equals(a.memory));
  assert.deepEqual(await b.pageTypes([1, 4, 100]), [12, 1, 0]);
  assert.deepEqual(b.vcpuContexts, a.vcpuContexts);
  assert.equal(b.config, a.config);
});

test('a 64 GiB sample is made at once and stores nothing until written: pages are computed when read', async () => {
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const big = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 64 * 1024, seed: 9 });
  assert.equal(big.maxPfn, 16 * 1024 * 1024);
  assert.equal(big.storedBytes, 0);
  // A page's stamp depends on the seed and the pfn only: a small domain's pages are the big one's.
  const small = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 2, seed: 9 });
  assert.ok(Buffer.from(big.pageRun(0, 512)).equals(small.memory.subarray(0, 512 * 4096)));
  const last = big.maxPfn - 1;
  const tail = Buffer.from(big.pageRun(last - 1, 2));
  assert.equal(tail.readUInt32LE(4096), last, 'the last page starts with its pfn');
  assert.ok(tail.subarray(4096 + 4, 4096 + 64).some((b) => b !== 0), 'and carries seeded octets');
  assert.ok(tail.subarray(4096 + 64).every((b) => b === 0), 'the rest is zero');
  const into = Buffer.alloc(2 * 4096);
  assert.deepEqual(await big.readPages([last - 1, last], into), [true, true]);
  assert.ok(into.equals(tail));
  assert.deepEqual(await big.pageTypes([0, 0xa0, last]), [0, 15, 0]);
  // A write stores its segment (2 MiB), and only that.
  big.touch(last, 42);
  assert.equal(big.storedBytes, 2 * 1024 * 1024);
  const after = Buffer.from(big.pageRun(last, 1));
  assert.ok(after.subarray(0, 64).equals(tail.subarray(4096, 4096 + 64)), 'the stamp is kept under a write');
  assert.ok(!after.equals(tail.subarray(4096)));
  assert.ok(performance.now() - t0 < 2000, `made and read in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.ok(process.memoryUsage().rss - rssBefore < 256 * 1024 * 1024, 'its memory was not allocated');
});

test('a lazy domain saves, reads and hashes the same bytes as one made whole, and its runs do not overwrite each other within a batch', async () => {
  for (const guest of ['hvm', 'pv'] as const) {
    const lazy = SimulatedDomain.create({ guest, memoryMiB: 8, seed: 21 });
    const whole = SimulatedDomain.create({ guest, memoryMiB: 8, seed: 21 });
    for (const d of [lazy, whole]) {
      d.touch(600, 7);
      d.touch(1000, 8);
      d.balloonOut(900);
    }
    const memory = whole.memory;
    // Written: the segment of pfns 512-1023; PV also stores its page tables and start info (segment 0) and its P2M (the last).
    const stored = lazy.storedBytes;
    assert.equal(stored, (guest === 'hvm' ? 1 : 3) * 2 * 1024 * 1024);
    // A batch's runs: computed, across segments, in a stored segment, at the end of memory.
    const runs: [number, number][] = [[0, 100], [500, 30], [1000, 200], [600, 10], [2048 - 24, 24], [100, 1]];
    const views = runs.map(([first, count]) => lazy.pageRun(first, count));
    runs.forEach(([first, count], i) => assert.ok(Buffer.from(views[i]!).equals(memory.subarray(first * 4096, (first + count) * 4096)), `${guest}: run ${first}+${count}`));
    assert.deepEqual(lazy.pageHashes(), whole.pageHashes());
    assert.equal(lazy.storedBytes, stored, 'reading stores nothing');
  }
});
