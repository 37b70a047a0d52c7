import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoError, RefusedError } from '../../src/format/errors.js';
import { SimulatedDomain } from '../../src/domain/simulated/simulated-domain.js';
import { MemoryImage } from '../../src/domain/image/memory-image.js';
import { migrateDomain } from '../../src/migrate/sender.js';
import { receiveMigration, type ReceiveResult } from '../../src/migrate/receiver.js';
import { connectChannel, pipePair, socketChannel } from '../../src/migrate/transport.js';
import { sampleHostPolicies } from '../../src/policy/samples.js';
import { memoryAfterRestore, memoryOf } from '../support/memory.js';
import type { Lent } from '../../src/io/raw-source.js';

async function sourceMemory(d: SimulatedDomain): Promise<{ pfns: number[]; mem: Buffer }> {
  const pfns = await d.populatedPfns();
  return { pfns, mem: await memoryAfterRestore(d, pfns) };
}

test('live migration of a running HVM guest over an in-process pipe pair: exact copy, source destroyed', async () => {
  const src = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 8, seed: 21, workload: { rate: 20_000, pattern: 'hotset', tickMs: 1 } });
  src.start();
  const dst = SimulatedDomain.empty();
  const [a, b] = pipePair();
  const lines: string[] = [];
  const [sent, got] = await Promise.all([
    migrateDomain(src, a, { log: (l) => lines.push(l) }),
    receiveMigration(b, { createSink: async () => dst, log: (l) => lines.push(l) }),
  ]);
  assert.equal(sent.outcome, 'migrated');
  assert.equal(got.outcome, 'received');
  assert.deepEqual(sent.preflight, { accepted: true, reasons: [] });
  assert.equal(src.running, false);
  assert.ok(dst.committed);
  const want = await sourceMemory(src);
  assert.deepEqual(await dst.populatedPfns(), want.pfns);
  assert.ok((await memoryOf(dst, want.pfns)).equals(want.mem));
  assert.deepEqual(dst.hvmContext, src.hvmContext);
  assert.equal(dst.config, src.config);
  assert.ok(sent.downtimeMs! >= 0 && sent.save!.rounds >= 2);
});

test('PV migration over loopback TCP into a memory image', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xenmig-mig-'));
  try {
    const into = join(dir, 'img');
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const received = new Promise<ReceiveResult>((resolve, reject) => {
      server.once('connection', (sock) => {
        server.close();
        receiveMigration(socketChannel(sock, { receiving: true }), { createSink: () => MemoryImage.create(into), minVersion: 3 }).then(resolve, reject);
      });
    });
    const src = SimulatedDomain.create({ guest: 'pv', memoryMiB: 4, seed: 8, workload: { rate: 5000, pattern: 'uniform', tickMs: 1 } });
    src.start();
    const ch = await connectChannel('127.0.0.1', port);
    const sent = await migrateDomain(src, ch);
    await ch.close();
    await received;
    assert.equal(sent.outcome, 'migrated');
    const img = await MemoryImage.open(into);
    const want = await sourceMemory(src);
    assert.deepEqual(await img.populatedPfns(), want.pfns);
    assert.ok((await memoryOf(img, want.pfns)).equals(want.mem));
    assert.deepEqual(await img.pageTypes([1, 4, 8]), [12, 1, 0]);
    await img.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('page writes that fail while queued (the stream goes on meanwhile): the receiver aborts, no image is left, the source resumes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xenmig-wfail-'));
  try {
    const into = join(dir, 'img');
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    let queued = 0;
    const received = new Promise<ReceiveResult>((resolve, reject) => {
      server.once('connection', (sock) => {
        server.close();
        const createSink = async (): Promise<MemoryImage> => {
          const img = await MemoryImage.create(into);
          const queue = img.writePageViews.bind(img);
          // After a few pieces the memory file's descriptor goes away: the queued writes fail with EBADF.
          img.writePageViews = async (pfns, views, done) => {
            if (++queued === 3) await (img as unknown as { memory: { handle: { close(): Promise<void> } } }).memory.handle.close();
            return queue(pfns, views, done);
          };
          return img;
        };
        const channel = socketChannel(sock, { receiving: true });
        // As `xenmig receive` does: a failed receive cuts the connection.
        receiveMigration(channel, { createSink }).then(resolve, (err: unknown) => {
          channel.destroy();
          reject(err);
        });
      });
    });
    const src = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 16, seed: 4 });
    src.start();
    const ch = await connectChannel('127.0.0.1', port);
    const [sent, got] = await Promise.allSettled([migrateDomain(src, ch), received]);
    ch.destroy();
    assert.ok(queued >= 3, 'page contents went through the queue');
    assert.equal(got.status, 'rejected');
    assert.match(String((got as PromiseRejectedResult).reason.message), /writing .*memory\.raw/);
    assert.equal(sent.status, 'rejected');
    assert.equal(src.running, true);
    assert.deepEqual(await readdir(dir), []);
    src.destroy();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('preflight refusal: nothing copied, the source never stopped, both sides know why', async () => {
  const src = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 2, seed: 1, workload: { rate: 1000, tickMs: 1 } });
  src.start();
  const before = Buffer.from(src.memory);
  const amd = sampleHostPolicies('amd-zen2-rome');
  const [a, b] = pipePair();
  let created = 0;
  const [sent, got] = await Promise.allSettled([
    migrateDomain(src, a),
    receiveMigration(b, { createSink: async () => (created++, SimulatedDomain.empty()), hostPolicies: amd }),
  ]);
  assert.equal(sent.status, 'rejected');
  const err = (sent as PromiseRejectedResult).reason as RefusedError;
  assert.ok(err instanceof RefusedError);
  assert.ok(err.reasons.some((r) => /vendor/i.test(r)), err.reasons.join('\n'));
  assert.equal(got.status, 'fulfilled');
  const r = (got as PromiseFulfilledResult<ReceiveResult>).value;
  assert.equal(r.outcome, 'refused-at-preflight');
  assert.deepEqual(r.preflight!.reasons, err.reasons);
  assert.equal(created, 0);
  assert.equal(src.running, true);
  // The guest kept running: memory moved on only by its own writes, none by a save.
  src.destroy();
  assert.equal(src.memory.length, before.length);
});

test('preflight-only: accepted, the receiver ends cleanly without creating anything', async () => {
  const src = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 1, seed: 1 });
  const [a, b] = pipePair();
  let created = 0;
  const [sent, got] = await Promise.all([
    migrateDomain(src, a, { preflightOnly: true }).then(async (r) => (await a.close(), r)),
    receiveMigration(b, { createSink: async () => (created++, SimulatedDomain.empty()) }),
  ]);
  assert.equal(sent.outcome, 'preflight-accepted');
  assert.equal(got.outcome, 'preflight-only');
  assert.equal(created, 0);
});

test('plain xl-style migration without the preflight; min-version refusal at STATIC_DATA_END resumes the source', async () => {
  const src = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 2, seed: 3, workload: { rate: 2000, tickMs: 1 } });
  src.start();
  const dst = SimulatedDomain.empty();
  const [a, b] = pipePair();
  const [sent, got] = await Promise.allSettled([
    migrateDomain(src, a, { preflight: false, streamVersion: 2 }),
    receiveMigration(b, { createSink: async () => dst, minVersion: 3 }).finally(() => b.destroy()),
  ]);
  assert.equal(got.status, 'rejected');
  assert.equal(sent.status, 'rejected');
  assert.ok((sent as PromiseRejectedResult).reason instanceof IoError);
  assert.equal(src.running, true);
  assert.equal(dst.committed, false);
  assert.ok(dst.abortedWith !== undefined);
  src.destroy();
});

test('a receiver that fails to start the domain reports it; the sender resumes', async () => {
  const src = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 1, seed: 3 });
  src.start();
  const dst = SimulatedDomain.empty();
  dst.commit = async () => {
    throw new Error('disk full');
  };
  const [a, b] = pipePair();
  const [sent, got] = await Promise.allSettled([migrateDomain(src, a), receiveMigration(b, { createSink: async () => dst })]);
  assert.equal(got.status, 'rejected');
  assert.equal(sent.status, 'rejected');
  assert.match(String((sent as PromiseRejectedResult).reason.message), /status 1/);
  assert.equal(src.running, true);
  assert.ok(dst.abortedWith !== undefined);
  src.destroy();
});

test('a connection cut at many points: the source runs on, no image is left behind', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'xenmig-cut-'));
  try {
    // Octets the receiver reads before the cut: in the handshake, the preflight, the headers and the first pass (about 920 000 octets).
    for (const cut of [0, 10, 30, 300, 5_000, 70_000, 400_000, 800_000, 916_000]) {
      const src = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 1, seed: cut, workload: { rate: 3000, tickMs: 1 } });
      src.start();
      const [a, b] = pipePair();
      // The receiver side's input is cut after `cut` octets: what it reads then ends.
      const into = join(dir, `img-${cut}`);
      let seen = 0;
      const origRead = b.reader.source.read.bind(b.reader.source);
      (b.reader.source as { read: typeof origRead }).read = async (buf: Uint8Array, pos: number) => {
        if (seen >= cut) {
          a.destroy();
          return 0;
        }
        const n = await origRead(buf.subarray(0, Math.min(buf.length, cut - seen)), pos);
        seen += n;
        return n;
      };
      // Page contents are lent, not read: the same cut applies to them.
      const source = b.reader.source as { lend?: (n: number) => Promise<Lent> };
      const origLend = source.lend!.bind(source);
      source.lend = async (n: number) => {
        if (seen >= cut) {
          a.destroy();
          return { views: [], release: () => undefined };
        }
        const lent = await origLend(Math.min(n, cut - seen));
        for (const v of lent.views) seen += v.length;
        return lent;
      };
      const [sent, got] = await Promise.allSettled([
        migrateDomain(src, a),
        receiveMigration(b, { createSink: () => MemoryImage.create(into) }).finally(() => b.destroy()),
      ]);
      assert.equal(sent.status, 'rejected', `cut at ${cut}: sender fails`);
      assert.equal(got.status, 'rejected', `cut at ${cut}: receiver fails`);
      assert.equal(src.running, true, `cut at ${cut}: source runs`);
      src.destroy();
      assert.deepEqual(await readdir(dir), [], `cut at ${cut}: nothing left in ${dir}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a checkpointed (Remus) migration: libxl records after each CHECKPOINT are read as libxl; the copy is the last checkpoint', async () => {
  const src = SimulatedDomain.create({ guest: 'hvm', memoryMiB: 4, seed: 5, workload: { rate: 5_000, pattern: 'hotset', tickMs: 1 } });
  src.start();
  const dst = SimulatedDomain.empty();
  const [a, b] = pipePair();
  const [sent, got] = await Promise.all([
    migrateDomain(src, a, { checkpoint: { intervalMs: 5, count: 2 } }),
    receiveMigration(b, { createSink: async () => dst, checkpointed: true }),
  ]);
  assert.equal(sent.outcome, 'migrated');
  assert.equal(got.outcome, 'received');
  assert.equal(sent.save!.checkpoints, 3);
  const want = await sourceMemory(src);
  assert.deepEqual(await dst.populatedPfns(), want.pfns);
  assert.ok((await memoryOf(dst, want.pfns)).equals(want.mem));
});
