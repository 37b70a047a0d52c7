import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BufferSink } from '../../src/io/sink.js';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { verifyStream } from '../../src/verify/index.js';
import { restoreStream } from '../../src/restore/index.js';
import { MemoryImage } from '../../src/domain/image/memory-image.js';
import { SimulatedDomain } from '../../src/domain/simulated/simulated-domain.js';
import { saveDomain, type SaveLayer } from '../../src/save/save.js';
import type { GuestType } from '../../src/format/constants.js';
import { memoryAfterRestore, memoryOf, zeroRestoredPages } from '../support/memory.js';

const reader = (b: Uint8Array): ByteReader => new ByteReader(new BufferRawSource(b));

const cases: { guest: GuestType; live: boolean; layer: SaveLayer }[] = [
  { guest: 'hvm', live: false, layer: 'xl' },
  { guest: 'hvm', live: true, layer: 'libxc' },
  { guest: 'pv', live: false, layer: 'libxl' },
  { guest: 'pv', live: true, layer: 'xl' },
];

for (const c of cases) {
  test(`save -> verify clean -> restore -> memory equal: ${c.guest}, ${c.live ? 'live' : 'non-live'}, ${c.layer}, workload running`, async () => {
    const d = SimulatedDomain.create({ guest: c.guest, memoryMiB: 4, seed: 17, workload: { rate: 20_000, pattern: 'hotset', tickMs: 1 } });
    d.start();
    const sink = new BufferSink();
    await saveDomain(d, sink, { live: c.live, layer: c.layer });
    const bytes = sink.bytes();
    const v = await verifyStream(reader(bytes));
    assert.deepEqual(
      v.diagnostics.filter((x) => x.severity !== 'info').map((x) => `${x.code}: ${x.message}`),
      [],
    );
    assert.equal(v.conforming, true);
    const dir = await mkdtemp(join(tmpdir(), 'xenmig-rt-'));
    try {
      const into = join(dir, 'img');
      await restoreStream(readStream(reader(bytes)), await MemoryImage.create(into), { minVersion: 3 });
      const img = await MemoryImage.open(into);
      const pfns = await d.populatedPfns();
      assert.deepEqual(await img.populatedPfns(), pfns);
      assert.ok((await memoryOf(img, pfns)).equals(await memoryAfterRestore(d, pfns)), 'memory equal to the source at suspend, the rings and ioreq pages zeroed');
      assert.deepEqual(await img.pageTypes(pfns.slice(0, 8)), await d.pageTypes(pfns.slice(0, 8)));
      if (c.guest === 'hvm') assert.deepEqual(await img.getHvmContext(), d.hvmContext);
      else assert.equal((await img.getVcpuContexts()).length, d.vcpuContexts.length);
      await img.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
      d.destroy();
    }
  });
}

test('checkpointed: a stream cut inside a checkpoint batch restores the last complete checkpoint', async () => {
  const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 2, seed: 23, workload: { rate: 20_000, pattern: 'uniform', tickMs: 1 } });
  d.start();
  const sink = new BufferSink();
  const atCheckpoint: { memory: Buffer; offset: number }[] = [];
  await saveDomain(d, sink, {
    checkpoint: { intervalMs: 10, count: 3 },
    // The domain is suspended while each CHECKPOINT is written: its memory is that checkpoint.
    onCheckpoint: () => atCheckpoint.push({ memory: Buffer.from(d.memory), offset: sink.written }),
  });
  d.destroy();
  const bytes = sink.bytes();
  assert.equal((await verifyStream(reader(bytes), { checkpointed: true })).conforming, true);
  assert.equal(atCheckpoint.length, 4);
  // Cut halfway between checkpoint 2 and checkpoint 3: the third batch is incomplete.
  const cut = Math.floor((atCheckpoint[1]!.offset + atCheckpoint[2]!.offset) / 2);
  const into = SimulatedDomain.empty();
  const result = await restoreStream(readStream(reader(bytes.subarray(0, cut))), into, { checkpointed: true });
  assert.ok(result.failover, 'failed over');
  assert.equal(result.checkpoints, 2);
  assert.ok(into.committed);
  const pfns = await d.populatedPfns();
  const want = zeroRestoredPages(Buffer.concat(pfns.map((p) => atCheckpoint[1]!.memory.subarray(p * 4096, (p + 1) * 4096))), pfns, d.hvmParams);
  assert.ok((await memoryOf(into, pfns)).equals(want), 'memory is checkpoint 2');
});

test('checkpointed libxl/xl streams: libxl records after each CHECKPOINT; restore and failover give the last checkpoint whose CHECKPOINT_END arrived', async () => {
  for (const layer of ['libxl', 'xl'] as const) {
    const d = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 2, seed: 29, workload: { rate: 20_000, pattern: 'uniform', tickMs: 1 } });
    d.start();
    const sink = new BufferSink();
    const atCheckpoint: { memory: Buffer; offset: number }[] = [];
    // Called once the checkpoint's CHECKPOINT_END is written, the domain still suspended.
    await saveDomain(d, sink, { layer, checkpoint: { intervalMs: 10, count: 3 }, onCheckpoint: () => atCheckpoint.push({ memory: Buffer.from(d.memory), offset: sink.written }) });
    d.destroy();
    const bytes = sink.bytes();
    const v = await verifyStream(reader(bytes), { checkpointed: true });
    assert.deepEqual(v.diagnostics.filter((x) => x.severity !== 'info').map((x) => x.code), [], layer);
    assert.deepEqual(v.checkpoints, { kind: 'remus', checkpoints: 4, complete: 4 });

    // The interleaving, as libxl writes it: CHECKPOINT, xenstore data, context, CHECKPOINT_END, then libxc again.
    const seq: string[] = [];
    for await (const it of readStream(reader(bytes), { checkpointed: 'remus', pageContents: 'skip' })) {
      if (it.kind === 'record' && (it.layer === 'libxl' || it.typeName === 'CHECKPOINT' || it.typeName === 'END')) seq.push(`${it.layer}:${it.typeName}`);
    }
    const one = ['libxc:CHECKPOINT', 'libxl:EMULATOR_XENSTORE_DATA', 'libxl:EMULATOR_CONTEXT', 'libxl:CHECKPOINT_END'];
    assert.deepEqual(seq, ['libxl:LIBXC_CONTEXT', ...one, ...one, ...one, ...one, 'libxc:END', 'libxl:END']);

    const pfns = await d.populatedPfns();
    const memoryAt = (k: number): Buffer => zeroRestoredPages(Buffer.concat(pfns.map((p) => atCheckpoint[k - 1]!.memory.subarray(p * 4096, (p + 1) * 4096))), pfns, d.hvmParams);
    const whole = SimulatedDomain.empty();
    const all = await restoreStream(readStream(reader(bytes), { checkpointed: 'remus' }), whole, { checkpointed: 'remus' });
    assert.equal(all.checkpoints, 4);
    assert.ok((await memoryOf(whole, pfns)).equals(memoryAt(4)), 'whole stream: checkpoint 4');
    assert.deepEqual(await whole.getEmulatorData(), await d.getEmulatorData());

    // Cut inside checkpoint 3's libxl records (just before its CHECKPOINT_END): checkpoint 2 is the domain.
    const cut = atCheckpoint[2]!.offset - 4;
    const into = SimulatedDomain.empty();
    const result = await restoreStream(readStream(reader(bytes.subarray(0, cut)), { checkpointed: 'remus' }), into, { checkpointed: 'remus' });
    assert.ok(result.failover, 'failed over');
    assert.equal(result.checkpoints, 2);
    assert.ok((await memoryOf(into, pfns)).equals(memoryAt(2)), `${layer}: memory is checkpoint 2`);
  }
});
