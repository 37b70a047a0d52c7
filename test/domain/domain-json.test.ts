/** domain.json: one codec, and images written before it (test/fixtures/images) still load, byte for byte. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryImage } from '../../src/domain/image/memory-image.js';
import { DOMAIN_FILE, decodeDomainJson, encodeDomainJson, parseDomainJson } from '../../src/domain/image/domain-json.js';
import { SimulatedDomain } from '../../src/domain/simulated/simulated-domain.js';
import { DomainState } from '../../src/domain/state.js';
import { saveDomain } from '../../src/save/save.js';
import { BufferSink } from '../../src/io/sink.js';

const fixture = (name: string): string => new URL(`../../../test/fixtures/images/${name}`, import.meta.url).pathname;

for (const name of ['hvm-v1', 'pv-v1']) {
  test(`an image written before the shared DomainState (${name}) loads, and its domain.json encodes back byte for byte`, async () => {
    const dir = fixture(name);
    const text = await readFile(join(dir, DOMAIN_FILE), 'utf8');
    const { state, types } = await decodeDomainJson(dir, parseDomainJson(dir, text), async (f) => new Uint8Array(await readFile(join(dir, String(f)))));
    const again = encodeDomainJson(state, types);
    assert.equal(again.json, text);
    const names = (await readdir(dir)).filter((f) => f !== DOMAIN_FILE && f !== 'memory.raw').sort();
    assert.deepEqual(again.files.map(([f]) => f).sort(), names);
    for (const [f, bytes] of again.files) assert.deepEqual(Buffer.from(bytes), await readFile(join(dir, f)), f);
  });
}

test('an old image opens as a domain: its state, page types and pages as written', async () => {
  const hvm = await MemoryImage.open(fixture('hvm-v1'));
  try {
    assert.deepEqual(hvm.describe(), { guestType: 'hvm', pageShift: 12, streamVersion: 3, xenMajor: 4, xenMinor: 17 });
    assert.deepEqual(await hvm.getTscInfo(), { mode: 1, khz: 2400000, nsec: 12345678901234567890n, incarnation: 3 });
    assert.deepEqual(await hvm.getHvmParams(), [
      { index: 2n, value: 0xfeff0n },
      { index: 17n, value: 0xfefffn },
      { index: 12n, value: 1n },
    ]);
    assert.deepEqual((await hvm.getCpuPolicy()).msrs?.[1], { index: 0x10a, flags: 0, value: 0xffffffffffffffffn });
    assert.deepEqual(await hvm.getHvmContext(), Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    assert.deepEqual((await hvm.getEmulatorData()).map((e) => `${e.kind}:${e.data.length}`), ['xenstore:52', 'context:3']);
    assert.equal(await hvm.getConfig(), '{"c_info":{"name":"fixture","type":"hvm"}}');
    assert.deepEqual(await hvm.pageTypes([0, 7, 8, 9, 10]), [0, 0, 13, 15, 15]);
    const page = new Uint8Array(4096 * 2);
    assert.deepEqual(await hvm.readPages([5, 8], page), [true, false]);
    assert.ok(page.subarray(0, 4096).every((b) => b === 0x55));
  } finally {
    await hvm.close();
  }
  const pv = await MemoryImage.open(fixture('pv-v1'));
  try {
    assert.deepEqual(await pv.getPvInfo(), { guestWidth: 8, ptLevels: 4 });
    assert.deepEqual(await pv.getP2mFrames(), { startPfn: 0, endPfn: 15, p2mPfns: [3n, 0x123456789abcn] });
    assert.deepEqual((await pv.getVcpuContexts()).map((v) => `${v.vcpuId}:${v.kind}`), ['0:basic', '0:extended', '0:xsave', '1:basic']);
    assert.equal((await pv.getSharedInfo())?.[100], 0x7e);
    assert.equal(pv.maxPfn, 16);
  } finally {
    await pv.close();
  }
});

test('both domains keep their state in one DomainState: a simulated domain and the image restored from it hold equal states', async () => {
  for (const guest of ['hvm', 'pv'] as const) {
    const src = SimulatedDomain.create({ guest, memoryMiB: 2, seed: 5 });
    const stream = new BufferSink();
    await saveDomain(src, stream, { layer: 'xl' });
    const dir = await mkdtemp(join(tmpdir(), 'xenmig-state-'));
    try {
      const { restoreStream } = await import('../../src/restore/index.js');
      const { readStream } = await import('../../src/stream/reader.js');
      const { ByteReader } = await import('../../src/io/byte-reader.js');
      const { BufferRawSource } = await import('../../src/io/raw-source.js');
      const into = join(dir, 'img');
      const sim = SimulatedDomain.empty();
      for (const sink of [await MemoryImage.create(into), sim]) {
        await restoreStream(readStream(new ByteReader(new BufferRawSource(stream.bytes())), { format: 'xl' }), sink);
      }
      const img = await MemoryImage.open(into);
      const a = await DomainState.of(img);
      const b = await DomainState.of(sim);
      const c = await DomainState.of(src);
      await img.close();
      for (const s of [a, b, c]) s.desc = { ...s.desc!, xenMajor: 0, xenMinor: 0, streamVersion: 0 };
      // The stream carries only the params libxc saves, and no TSC for HVM is lost either way.
      assert.deepEqual(a, b, `${guest}: image and simulated domain restored from one stream`);
      assert.deepEqual(a.vcpuContexts, c.vcpuContexts);
      assert.deepEqual(a.emulatorData, c.emulatorData);
      assert.deepEqual(a.hvmContext, c.hvmContext);
      assert.deepEqual(a.cpuPolicy, c.cpuPolicy);
      assert.deepEqual(a.p2mFrames, c.p2mFrames);
      assert.equal(a.config, c.config);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('a record sent again replaces the one before, in both domains alike (HVM params by index, vcpus by id and kind)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xenmig-state-'));
  try {
    const img = await MemoryImage.create(join(dir, 'img'));
    const sim = SimulatedDomain.empty();
    for (const d of [img, sim]) {
      await d.begin({ guestType: 'pv', pageShift: 12, xenMajor: 4, xenMinor: 17, streamVersion: 3 });
      await d.setHvmParams([{ index: 2n, value: 1n }, { index: 5n, value: 2n }]);
      await d.setHvmParams([{ index: 2n, value: 3n }]);
      await d.setVcpuContext({ vcpuId: 1, kind: 'basic', data: Uint8Array.of(1) });
      await d.setVcpuContext({ vcpuId: 0, kind: 'basic', data: Uint8Array.of(2) });
      await d.setVcpuContext({ vcpuId: 1, kind: 'basic', data: Uint8Array.of(3) });
      assert.deepEqual(await d.getHvmParams(), [{ index: 2n, value: 3n }, { index: 5n, value: 2n }]);
      assert.deepEqual((await d.getVcpuContexts()).map((v) => [v.vcpuId, v.data[0]]), [[0, 2], [1, 3]]);
    }
    await img.abort('test');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an image copied from an old one and opened again commits the same domain.json', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xenmig-state-'));
  try {
    await cp(fixture('pv-v1'), join(dir, 'old'), { recursive: true });
    const old = await MemoryImage.open(join(dir, 'old'));
    const sim = await SimulatedDomain.fromSource(old);
    await old.close();
    const img = await MemoryImage.create(join(dir, 'new'));
    await img.begin(sim.describe());
    for (const [k, v] of Object.entries({ setPvInfo: sim.pvInfo, setP2mFrames: sim.p2mFrames, setCpuPolicy: sim.cpuPolicy, setTscInfo: await sim.getTscInfo(), setSharedInfo: sim.sharedInfo })) {
      await (img as unknown as Record<string, (x: unknown) => Promise<void>>)[k]!(v);
    }
    for (const v of sim.vcpuContexts) await img.setVcpuContext(v);
    await img.setConfig(sim.config!);
    const pfns = await sim.populatedPfns();
    await img.setPageTypes(pfns, await sim.pageTypes(pfns));
    await img.commit();
    await img.close();
    const a = JSON.parse(await readFile(join(dir, 'old', DOMAIN_FILE), 'utf8'));
    const b = JSON.parse(await readFile(join(dir, 'new', DOMAIN_FILE), 'utf8'));
    // The old image had no TSC record; a simulated domain always has one.
    delete b.tsc;
    assert.deepEqual(b, a);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
