import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream, type CheckpointedKind } from '../../src/stream/reader.js';
import { restoreStream } from '../../src/restore/index.js';
import { StreamFormatError } from '../../src/format/errors.js';
import { L, assemble, checkpointStateBody, checkpointedParts, emulatorContextFor, memoryAt, xl, type Part } from '../support/checkpointed.js';
import { LogSink } from './memory-sink.js';

const items = (b: Uint8Array, kind: CheckpointedKind) => readStream(new ByteReader(new BufferRawSource(b), 4096), { checkpointed: kind, pageContents: 'stream' });

function sorted(m: Map<number, Uint8Array>): [number, Uint8Array][] {
  return [...m].sort((a, b) => a[0] - b[0]);
}

/** The state checkpoint k leaves: its memory and (HVM) the emulator context sent with it. */
function assertCheckpoint(sink: LogSink, k: number, guest: 'hvm' | 'pv', what: string): void {
  assert.deepEqual(sorted(sink.pages), sorted(memoryAt(k)), `${what}: memory`);
  if (guest === 'hvm') {
    assert.equal(sink.hvmContext?.[16], 0xa0 + k - 1, `${what}: HVM context (its HEADER's changeset)`);
    assert.deepEqual(sink.emulator.at(-1)?.data, emulatorContextFor(k - 1), `${what}: emulator context`);
  } else {
    assert.equal(sink.emulator.length, 0);
  }
}

test('a whole checkpointed libxl stream restores its last checkpoint, emulator context included', async () => {
  for (const [guest, kind] of [['hvm', 'remus'], ['pv', 'remus'], ['hvm', 'colo'], ['pv', 'colo']] as const) {
    const { bytes } = assemble(checkpointedParts({ guest, kind, xenstore: true }));
    const sink = new LogSink();
    const events: string[] = [];
    const result = await restoreStream(items(bytes, kind), sink, { checkpointed: kind, onEvent: (e) => e.kind === 'checkpoint' && events.push(`${e.index}:${e.appliedRecords}`) });
    assert.equal(result.checkpoints, 4);
    assert.equal(result.failover, undefined);
    assert.deepEqual(result.warnings, []);
    // The live pass is applied as it arrives; each later checkpoint at its CHECKPOINT_END.
    assert.deepEqual(events, ['1:0', '2:4', '3:4', '4:4']);
    assertCheckpoint(sink, 4, guest, `${guest} ${kind}`);
    assert.equal(sink.committed, true);
  }
});

test('cut anywhere: the domain is the last checkpoint whose CHECKPOINT_END arrived, or nothing before the first', async () => {
  for (const [guest, kind] of [['hvm', 'remus'], ['pv', 'colo']] as const) {
    const a = assemble(checkpointedParts({ guest, kind, xenstore: true, checkpoints: 2 }));
    const closed = [1, 2, 3].map((n) => a.after(`end ${n}`));
    const libxcEnd = a.offsets.at(-1)!;
    const cuts = new Set<number>();
    for (const o of a.offsets) for (const d of [0, 5, 8, 13]) if (o + d < a.bytes.length) cuts.add(o + d);
    for (const n of [1, 2, 3]) cuts.add(a.after(`checkpoint ${n}`));
    for (const cut of [...cuts].sort((x, y) => x - y)) {
      const k = closed.filter((e) => e <= cut).length;
      const sink = new LogSink();
      const run = restoreStream(items(a.bytes.subarray(0, cut), kind), sink, { checkpointed: kind });
      if (k === 0) {
        await assert.rejects(run, StreamFormatError, `cut at ${cut}`);
        assert.equal(sink.committed, false);
        continue;
      }
      const result = await run;
      assert.equal(result.checkpoints, k, `cut at ${cut}`);
      if (cut >= libxcEnd) {
        // Past the libxc END the receiver is done: no failover, whatever follows.
        assert.equal(result.failover, undefined);
        assert.match(result.warnings.at(-1)!.message, /^the input broke after the libxc END of a checkpointed stream/);
      } else assert.ok(result.failover, `cut at ${cut}: failover`);
      assertCheckpoint(sink, k, guest, `${guest} ${kind} cut at ${cut}`);
      assert.equal(sink.committed, true);
    }
  }
});

test('a bad libxl record inside a checkpoint breaks that checkpoint only', async () => {
  const parts = checkpointedParts({ guest: 'hvm', checkpoints: 2 });
  const at = parts.findIndex((p) => p.kind === 'record' && p.label === 'end 3');
  const bad: Part[] = [...parts.slice(0, at), xl(L.CHECKPOINT_STATE, checkpointStateBody(0)), ...parts.slice(at)];
  const sink = new LogSink();
  const result = await restoreStream(items(assemble(bad).bytes, 'remus'), sink, { checkpointed: 'remus' });
  assert.equal(result.checkpoints, 2);
  assert.match(result.failover!.reason, /CHECKPOINT_STATE between CHECKPOINT and CHECKPOINT_END/);
  assert.equal(result.failover!.discardedRecords, 5);
  assertCheckpoint(sink, 2, 'hvm', 'bad record');

  // An emulator record in a PV checkpoint.
  const pv = checkpointedParts({ guest: 'pv', checkpoints: 2 });
  const e3 = pv.findIndex((p) => p.kind === 'record' && p.label === 'end 3');
  const pvBad = [...pv.slice(0, e3), xl(L.EMULATOR_CONTEXT, new Uint8Array(12)), ...pv.slice(e3)];
  const r1 = await restoreStream(items(assemble(pvBad).bytes, 'remus'), new LogSink(), { checkpointed: 'remus' });
  assert.equal(r1.checkpoints, 2);
  assert.match(r1.failover!.reason, /EMULATOR_CONTEXT in a PV stream; a PV guest has no emulator/);

  // COLO: a CHECKPOINT_STATE other than CHECKPOINT_NEW after CHECKPOINT_END.
  const colo = checkpointedParts({ guest: 'pv', kind: 'colo', checkpoints: 2 });
  const st = colo.findIndex((p) => p.kind === 'record' && p.label === 'end 2') + 1;
  const wrong = colo.map((p, i) => (i === st ? xl(L.CHECKPOINT_STATE, checkpointStateBody(1)) : p));
  const r2 = await restoreStream(items(assemble(wrong).bytes, 'colo'), new LogSink(), { checkpointed: 'colo' });
  assert.equal(r2.checkpoints, 2);
  assert.match(r2.failover!.reason, /control_id 1 \(\w+\) travels from the COLO secondary to the primary/);
});

test('CHECKPOINT_END outside a checkpoint, or in a stream not restored as checkpointed, is fatal', async () => {
  const parts = checkpointedParts({ guest: 'pv', checkpoints: 0 });
  const early: Part[] = [parts[0]!, xl(L.CHECKPOINT_END), ...parts.slice(1)];
  await assert.rejects(restoreStream(items(assemble(early).bytes, 'remus'), new LogSink(), { checkpointed: 'remus' }), /CHECKPOINT_END that does not follow a libxc CHECKPOINT/);
  const plain = readStream(new ByteReader(new BufferRawSource(assemble(parts).bytes), 4096));
  await assert.rejects(restoreStream(plain, new LogSink()), /CHECKPOINT record in a stream that is not checkpointed/);
});
