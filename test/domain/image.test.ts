import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { restoreStream } from '../../src/restore/index.js';
import { MemoryImage } from '../../src/domain/image/memory-image.js';
import { RefusedError, UsageError } from '../../src/format/errors.js';
import { Bytes, concat, hvmContextBody, libxcHeaders, libxlWrap, pageDataBody, rec, xlWrap, T } from '../support/builder.js';
import { withTmp } from '../support/tmp.js';
import { hvmStream, pvStream, type Sent } from '../restore/fixtures.js';

const items = (b: Uint8Array) => readStream(new ByteReader(new BufferRawSource(b), 8192));

/** memory.raw must hold exactly the pages sent, zeros elsewhere, and end after the highest pfn. */
async function assertMemoryRaw(dir: string, sent: Sent): Promise<void> {
  const raw = new Uint8Array(await readFile(join(dir, 'memory.raw')));
  const max = Math.max(...sent.pages.keys());
  assert.equal(raw.length, (max + 1) * 4096);
  const expected = new Uint8Array(raw.length);
  for (const [pfn, page] of sent.pages) expected.set(page, pfn * 4096);
  assert.ok(Buffer.from(raw).equals(Buffer.from(expected)), 'memory.raw differs from the pages sent');
}

const kinds: [string, () => Sent][] = [
  ['HVM v3', () => hvmStream()],
  ['HVM v2', () => hvmStream({ version: 2 })],
  ['PV v3', () => pvStream()],
  ['PV v2', () => pvStream({ version: 2 })],
  ['HVM v3 big-endian in libxl', () => { const s = hvmStream({ bigEndian: true }); return { ...s, bytes: libxlWrap(s.bytes, { bigEndian: true }) }; }],
  ['PV v2 in xl', () => { const s = pvStream({ version: 2 }); return { ...s, bytes: xlWrap(libxlWrap(s.bytes)) }; }],
];

for (const [name, make] of kinds) {
  test(`${name}: restored image holds the pages byte for byte`, () =>
    withTmp(async (base) => {
      const sent = make();
      const dir = join(base, 'img');
      const image = await MemoryImage.create(dir);
      await restoreStream(items(sent.bytes), image);
      await image.close();
      await assertMemoryRaw(dir, sent);
      assert.deepEqual((await readdir(base)).sort(), ['img']);
    }));
}

test('domain.json describes the domain; the image reopens as a DomainSource with the same state', () =>
  withTmp(async (base) => {
    const sent = pvStream();
    const bytes = xlWrap(libxlWrap(sent.bytes, { extra: [rec(2, new Bytes(true).u32(1).u32(0).raw(new TextEncoder().encode('a\0b\0')).build())] }), 'name="pv1"', 2); // a text config: no JSON flag
    const dir = join(base, 'img');
    const image = await MemoryImage.create(dir);
    await restoreStream(items(bytes), image);
    await image.close();
    const json = JSON.parse(await readFile(join(dir, 'domain.json'), 'utf8'));
    assert.equal(json.format, 'xenmig-memory-image');
    assert.equal(json.guestType, 'pv');
    assert.deepEqual(json.source, { streamVersion: 3, xenMajor: 4, xenMinor: 19 });
    assert.deepEqual(json.memory.pageTypes, [[0, 3, 'NOTAB'], [5, 2, 'NOTAB']]);
    assert.equal(json.memory.populated, 5);
    assert.deepEqual(json.pvInfo, { guestWidth: 8, ptLevels: 4 });
    assert.deepEqual(json.cpuPolicy.msrs, [{ index: '0xce', flags: '0x0', value: '0x80000000' }]);
    assert.deepEqual(json.tsc, { mode: 0, khz: 2000000, nsec: '123456789', incarnation: 1 });
    assert.deepEqual(json.vcpus.map((v: { file: string }) => v.file), ['vcpu0-basic.bin', 'vcpu0-extended.bin', 'vcpu1-basic.bin']);
    assert.deepEqual(json.emulator[0].xenstore, { a: 'b' });
    assert.equal(await readFile(join(dir, 'config'), 'utf8'), 'name="pv1"');

    const src = await MemoryImage.open(dir);
    assert.equal(src.guestType, 'pv');
    assert.deepEqual(await src.populatedPfns(), [0, 1, 2, 5, 6]);
    const into = new Uint8Array(2 * 4096);
    await src.readPages([5, 6], into);
    assert.deepEqual(into.subarray(0, 4096), sent.pages.get(5));
    assert.deepEqual(into.subarray(4096), sent.pages.get(6));
    assert.equal((await src.getSharedInfo())?.[0], 0x5a);
    assert.deepEqual((await src.getVcpuContexts()).map((v) => `${v.vcpuId}:${v.kind}:${v.data.length}`), ['0:basic:64', '0:extended:16', '1:basic:64']);
    assert.equal((await src.getP2mFrames())?.endPfn, 16);
    assert.equal(src.maxPfn, 17);
    assert.equal(await src.getConfig(), 'name="pv1"');
    assert.equal((await src.getEmulatorData())[0]?.emulatorId, 1);
    assert.deepEqual(await src.getCpuPolicy(), { cpuid: [{ leaf: 0, subleaf: 0xffffffff, eax: 0xd, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 }], msrs: [{ index: 0xce, flags: 0, value: 0x80000000n }] });
    const log = await src.enableDirtyLogging();
    assert.deepEqual(await log.readAndClear(), []);
    await src.suspend();
    assert.equal(src.running, false);
    await src.resume();
    assert.equal(src.running, true);
    await src.close();
  }));

test('HVM params by name and XALLOC/XTAB page types survive a reopen', () =>
  withTmp(async (base) => {
    const dir = join(base, 'img');
    const bytes = concat(
      libxcHeaders({ version: 2 }),
      rec(T.PAGE_DATA, pageDataBody([{ pfn: 1 }, { pfn: 2, type: 14 }, { pfn: 3, type: 15 }])),
      rec(T.HVM_PARAMS, new Bytes(true).u32(2).u32(0).u64(1n).u64(0xfeffen).u64(7n).u64(7n).build()),
      rec(T.HVM_CONTEXT, hvmContextBody(0, 3n)),
      rec(T.END),
    );
    const image = await MemoryImage.create(dir);
    await restoreStream(items(bytes), image);
    await image.close();
    const json = JSON.parse(await readFile(join(dir, 'domain.json'), 'utf8'));
    assert.deepEqual(json.hvmParams, { STORE_PFN: '0xfeffe', PARAM_7: '0x7' });
    assert.deepEqual(json.memory.pageTypes, [[1, 1, 'NOTAB'], [2, 1, 'XALLOC'], [3, 1, 'XTAB']]);
    assert.equal((await stat(join(dir, 'memory.raw'))).size, 4 * 4096);
    const src = await MemoryImage.open(dir);
    assert.deepEqual(await src.populatedPfns(), [1, 2]);
    assert.deepEqual(await src.pageTypes([1, 2, 3, 4]), [0, 14, 15, 15]);
    assert.deepEqual(await src.getHvmParams(), [{ index: 1n, value: 0xfeffen }, { index: 7n, value: 7n }]);
    assert.equal((await src.getHvmContext())?.length, 40);
    await src.close();
  }));

test('a failed or refused restore leaves no image and no temporary directory behind', () =>
  withTmp(async (base) => {
    const dir = join(base, 'img');
    const s = hvmStream();
    const img1 = await MemoryImage.create(dir);
    await assert.rejects(restoreStream(items(s.bytes.subarray(0, s.bytes.length - 30)), img1), /truncated/);
    assert.deepEqual(await readdir(base), []);
    const img2 = await MemoryImage.create(dir);
    await assert.rejects(restoreStream(items(s.bytes), img2, { staticDataDone: () => ({ refuse: 'no' }) }), RefusedError);
    assert.deepEqual(await readdir(base), []);
  }));

test('an existing directory is not replaced without force; with force it is, once complete', () =>
  withTmp(async (base) => {
    const dir = join(base, 'img');
    const first = await MemoryImage.create(dir);
    await restoreStream(items(hvmStream().bytes), first);
    await first.close();
    await assert.rejects(MemoryImage.create(dir), UsageError);
    const sent = hvmStream({ seed: 5, pfns: [0, 1, 2, 3] });
    const second = await MemoryImage.create(dir, { force: true });
    await restoreStream(items(sent.bytes), second);
    await second.close();
    await assertMemoryRaw(dir, sent);
    assert.deepEqual(await readdir(base), ['img']);
  }));

test('force replaces only a memory image (or an empty directory): any other directory or file is refused and left as it was', () =>
  withTmp(async (base) => {
    const other = join(base, 'home');
    await mkdir(other);
    await writeFile(join(other, 'thesis.tex'), 'years of work');
    await assert.rejects(MemoryImage.create(other, { force: true }), /home exists and is not a memory image \(no domain.json of format xenmig-memory-image\); --force replaces only memory images/);
    assert.equal(await readFile(join(other, 'thesis.tex'), 'utf8'), 'years of work');
    await writeFile(join(other, 'domain.json'), '{"format":"something-else"}');
    await assert.rejects(MemoryImage.create(other, { force: true }), UsageError);
    await writeFile(join(base, 'file'), 'x');
    await assert.rejects(MemoryImage.create(join(base, 'file'), { force: true }), /is not a directory/);
    await mkdir(join(base, 'empty'));
    const img = await MemoryImage.create(join(base, 'empty'), { force: true });
    await restoreStream(items(hvmStream().bytes), img);
    await img.close();
    assert.deepEqual((await readdir(base)).sort(), ['empty', 'file', 'home']);
  }));

test('an image whose domain.json names files outside it is refused when opened', () =>
  withTmp(async (base) => {
    const dir = join(base, 'img');
    const img = await MemoryImage.create(dir);
    await restoreStream(items(hvmStream().bytes), img);
    await img.close();
    await writeFile(join(base, 'secret.txt'), 'not yours');
    const json = JSON.parse(await readFile(join(dir, 'domain.json'), 'utf8')) as { hvmContext: { file: string }; memory: { file: string } };
    for (const [field, name] of [['hvmContext', '../secret.txt'], ['hvmContext', '/etc/passwd'], ['memory', '..']] as const) {
      const bad = structuredClone(json);
      if (field === 'memory') bad.memory.file = name;
      else bad.hvmContext.file = name;
      await writeFile(join(dir, 'domain.json'), JSON.stringify(bad));
      await assert.rejects(MemoryImage.open(dir), /names the file .*; an image's files are plain names inside it/);
    }
  }));

test('a checkpointed stream cut mid-batch leaves the image at the last complete checkpoint', () =>
  withTmp(async (base) => {
    const first = pageDataBody([{ pfn: 0 }, { pfn: 1 }], true, 0);
    const second = pageDataBody([{ pfn: 1 }, { pfn: 2 }], true, 1);
    const third = pageDataBody([{ pfn: 0 }, { pfn: 3 }], true, 2);
    const ctx = rec(T.HVM_CONTEXT, hvmContextBody(0, 1n));
    const bytes = concat(libxcHeaders({ version: 3 }), rec(T.STATIC_DATA_END), rec(T.PAGE_DATA, first), ctx, rec(T.CHECKPOINT), rec(T.PAGE_DATA, second), rec(T.CHECKPOINT), rec(T.PAGE_DATA, third));
    const dir = join(base, 'img');
    const image = await MemoryImage.create(dir);
    const result = await restoreStream(items(bytes.subarray(0, bytes.length - 100)), image, { checkpointed: true });
    await image.close();
    assert.equal(result.checkpoints, 2);
    const { pageFor } = await import('../support/builder.js');
    const pages = new Map([[0, pageFor(0, 0)], [1, pageFor(1, 1)], [2, pageFor(2, 1)]]);
    await assertMemoryRaw(dir, { bytes, pages });
  }));
