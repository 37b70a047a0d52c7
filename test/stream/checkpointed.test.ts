import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StreamItem } from '../../src/stream/items.js';
import { StreamFormatError, TruncatedStreamError } from '../../src/format/errors.js';
import { libxlWrap, sampleHvmV3, xlWrap } from '../support/builder.js';
import { L, assemble, checkpointStateBody, checkpointedParts, xl, type Part } from '../support/checkpointed.js';
import { checkpointed as libxcCheckpointed } from '../restore/fixtures.js';
import { collect } from '../support/collect.js';

/** What each part should read back as: kind or layer:type, and its offset. */
function expected(parts: Part[]): string[] {
  const { offsets } = assemble(parts);
  return parts.map((p, i) => `${p.kind === 'record' ? `${p.layer}:${p.type}` : p.kind}@${offsets[i]}`);
}

function got(items: StreamItem[]): string[] {
  return items.map((i) => `${i.kind === 'record' ? `${i.layer}:${i.type}` : i.kind}@${i.offset}`);
}

test('Remus: after each libxc CHECKPOINT the libxl records up to CHECKPOINT_END, then libxc again', async () => {
  for (const guest of ['hvm', 'pv'] as const) {
    const parts = checkpointedParts({ guest, kind: 'remus', checkpoints: 2, xenstore: true });
    const { bytes } = assemble(parts);
    for (const chunk of [undefined, 24, 4096]) {
      const items = await collect(bytes, { checkpointed: 'remus' }, chunk);
      assert.deepEqual(got(items), expected(parts), `${guest}, chunk ${chunk}`);
    }
    const items = await collect(bytes, { checkpointed: 'remus' });
    // One index sequence per layer, the interleaved libxl records included.
    const libxl = items.filter((i) => i.kind === 'record' && i.layer === 'libxl');
    assert.deepEqual(libxl.map((i) => i.kind === 'record' && i.index), libxl.map((_, n) => n));
    const libxc = items.filter((i) => i.kind === 'record' && i.layer === 'libxc');
    assert.deepEqual(libxc.map((i) => i.kind === 'record' && i.index), libxc.map((_, n) => n));
    const names = libxl.map((i) => i.kind === 'record' && i.typeName);
    const perCheckpoint = guest === 'hvm' ? ['EMULATOR_XENSTORE_DATA', 'EMULATOR_CONTEXT', 'CHECKPOINT_END'] : ['CHECKPOINT_END'];
    assert.deepEqual(names, ['LIBXC_CONTEXT', ...perCheckpoint, ...perCheckpoint, ...perCheckpoint, 'END']);
  }
});

test('COLO: CHECKPOINT_STATE after each CHECKPOINT_END is a libxl record', async () => {
  const parts = checkpointedParts({ kind: 'colo', checkpoints: 1 });
  const items = await collect(assemble(parts).bytes, { checkpointed: 'colo' });
  assert.deepEqual(got(items), expected(parts));
  const states = items.filter((i) => i.kind === 'record' && i.layer === 'libxl' && i.typeName === 'CHECKPOINT_STATE');
  assert.equal(states.length, 2);
});

test('un-checkpointed reading is unchanged: plain libxl/xl streams and bare libxc checkpointed streams read the same either way', async () => {
  const plain = [libxlWrap(sampleHvmV3({ pages: 2 })), xlWrap(libxlWrap(sampleHvmV3({ pages: 1 }))), libxcCheckpointed().bytes];
  for (const bytes of plain) {
    const base = await collect(bytes);
    for (const kind of ['remus', 'colo'] as const) assert.deepEqual(await collect(bytes, { checkpointed: kind }), base);
  }
  // Without being told, a checkpointed libxl stream is framed as before: libxl's records after CHECKPOINT read as libxc ones.
  const parts = checkpointedParts({ guest: 'pv', checkpoints: 1 });
  const items = await collect(assemble(parts).bytes);
  const after = items.findIndex((i) => i.kind === 'record' && i.typeName === 'CHECKPOINT');
  const next = items[after + 1]!;
  assert.ok(next.kind === 'record' && next.layer === 'libxc' && next.typeName === 'X86_PV_VCPU_BASIC');
});

test('a libxl END or LIBXC_CONTEXT inside a checkpoint does not end it: framing goes on to CHECKPOINT_END', async () => {
  const parts = checkpointedParts({ guest: 'pv', checkpoints: 1 });
  const at = parts.findIndex((p) => p.kind === 'record' && p.label === 'end 1');
  parts.splice(at, 0, xl(L.END), xl(L.LIBXC_CONTEXT));
  const items = await collect(assemble(parts).bytes, { checkpointed: 'remus' });
  assert.deepEqual(got(items), expected(parts));
});

test('errors inside a checkpoint name the libxl record and its place', async () => {
  const parts = checkpointedParts({ guest: 'hvm', checkpoints: 1 });
  const a = assemble(parts);
  const ctxAt = parts.findIndex((p) => p.kind === 'record' && p.layer === 'libxl' && p.type === L.EMULATOR_CONTEXT);
  const offset = a.offsets[ctxAt]!;
  // Cut inside the first EMULATOR_CONTEXT body.
  await assert.rejects(collect(a.bytes.subarray(0, offset + 12), { checkpointed: 'remus' }), (err: unknown) => {
    assert.ok(err instanceof TruncatedStreamError);
    assert.deepEqual(err.location, { offset, layer: 'libxl', recordIndex: 1, recordType: 'EMULATOR_CONTEXT' });
    assert.equal(err.detail, 'stream truncated: EMULATOR_CONTEXT body and padding needs 32 octet(s), only 4 left');
    return true;
  });
  // Cut right after the libxc CHECKPOINT: the libxl record header is missing.
  const cut = a.after('checkpoint 1');
  await assert.rejects(collect(a.bytes.subarray(0, cut + 3), { checkpointed: 'remus' }), (err: unknown) => {
    assert.ok(err instanceof TruncatedStreamError);
    assert.deepEqual(err.location, { offset: cut, layer: 'libxl', recordIndex: 1 });
    return true;
  });
  // A libxl body over 128 MiB is refused before reading it.
  const big = a.bytes.slice();
  new DataView(big.buffer).setUint32(offset + 4, 0x8000001, true);
  await assert.rejects(collect(big, { checkpointed: 'remus' }), (err: unknown) => {
    assert.ok(err instanceof StreamFormatError);
    assert.equal(err.message, `offset ${offset} (0x${offset.toString(16)}), libxl, record #1, EMULATOR_CONTEXT: body length 134217729 exceeds the 128 MiB limit (refused before reading it)`);
    return true;
  });
  // COLO: the stream ends after CHECKPOINT_END, where CHECKPOINT_STATE belongs.
  const colo = assemble(checkpointedParts({ kind: 'colo', checkpoints: 0 }));
  const endAt = colo.after('end 1');
  await assert.rejects(collect(colo.bytes.subarray(0, endAt), { checkpointed: 'colo' }), (err: unknown) => {
    assert.ok(err instanceof TruncatedStreamError);
    assert.deepEqual(err.location, { offset: endAt, layer: 'libxl', recordIndex: 3 });
    return true;
  });
  assert.ok(checkpointStateBody(0).length === 4);
});
