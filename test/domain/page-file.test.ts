/** PageFile's write queue: pages queued as views are written in order (runs over the same octets never at once), with their buffers given back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PageFile } from '../../src/domain/image/page-file.js';
import { IoError } from '../../src/format/errors.js';
import { withTmp } from '../support/tmp.js';

const P = 4096;
const pages = (n: number, fill: (i: number) => number): Uint8Array => {
  const b = new Uint8Array(n * P);
  for (let i = 0; i < n; i++) b.fill(fill(i), i * P, (i + 1) * P);
  return b;
};
/** Cut into views at odd places, as a socket's chunks would be. */
const cut = (b: Uint8Array, sizes: number[]): Uint8Array[] => {
  const out: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < b.length; i++) {
    const k = sizes[i % sizes.length]!;
    out.push(b.subarray(at, at + k));
    at += k;
  }
  return out;
};
const range = (a: number, n: number): number[] => Array.from({ length: n }, (_, i) => a + i);

test('queued pages land where their pfns say, later copies over earlier ones, small and large runs alike; done once per call', () =>
  withTmp(async (dir) => {
    const f = await PageFile.create(join(dir, 'm'));
    const done: string[] = [];
    // A large run (thread pool), scattered single pages (written at once), then pages again over both.
    await f.queuePages(range(0, 300), cut(pages(300, (i) => i & 0xff), [5000, 70000, 123]), () => done.push('big'));
    await f.queuePages([7, 3, 299, 500], cut(pages(4, () => 0xa1), [4096 * 3 + 1, 99]), () => done.push('scattered'));
    await f.queuePages(range(250, 100), [pages(100, () => 0xb2)], () => done.push('again'));
    await f.drain();
    assert.deepEqual(done, ['big', 'scattered', 'again']);
    await f.close();
    const raw = new Uint8Array(await readFile(join(dir, 'm')));
    assert.equal(raw.length, 501 * P);
    const want = new Uint8Array(501 * P);
    want.set(pages(300, (i) => i & 0xff));
    for (const pfn of [7, 3, 299, 500]) want.fill(0xa1, pfn * P, (pfn + 1) * P);
    want.fill(0xb2, 250 * P, 350 * P);
    assert.ok(Buffer.from(raw).equals(Buffer.from(want)), 'memory file differs');
  }));

test('a failed write shows at the next call and at drain; every queued buffer is given back', () =>
  withTmp(async (dir) => {
    const f = await PageFile.create(join(dir, 'm'));
    const given: number[] = [];
    // Pfns beyond what the file can address fail before anything is queued.
    await assert.rejects(f.queuePages([2 ** 41], [pages(1, () => 1)], () => given.push(0)), IoError);
    assert.deepEqual(given, [0]);
    // A closed descriptor makes the writes themselves fail.
    await (f as unknown as { handle: { close(): Promise<void> } }).handle.close();
    await f.queuePages(range(0, 64), [pages(64, () => 2)], () => given.push(1)).catch(() => undefined);
    await f.queuePages(range(64, 64), [pages(64, () => 3)], () => given.push(2)).catch(() => undefined);
    await assert.rejects(f.drain(), (err: unknown) => err instanceof IoError && /writing .*m/.test(err.message));
    await assert.rejects(f.queuePages([1], [pages(1, () => 4)], () => given.push(3)), IoError);
    assert.deepEqual(given.sort(), [0, 1, 2, 3]);
  }));
