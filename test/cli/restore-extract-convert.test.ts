import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { libxlWrap, xlWrap } from '../support/builder.js';
import { withTmp } from '../support/tmp.js';
import { hvmStream, pvStream } from '../restore/fixtures.js';
import { assemble, checkpointedParts } from '../support/checkpointed.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../bin/xenmig');

function xenmig(args: string[], input?: Uint8Array) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, maxBuffer: 1 << 26 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}


test('restore from a file and from stdin; --min-version 3 refuses v2 with exit 1 and leaves nothing', () =>
  withTmp(async (d) => {
    const sent = hvmStream({ version: 2 });
    const file = join(d, 's.xl');
    await writeFile(file, xlWrap(libxlWrap(sent.bytes)));
    const a = xenmig(['restore', file, '--into', join(d, 'a')]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout.toString(), /restored HVM domain into .*\n  stream: xl > libxl > libxc, libxc v2/);
    assert.match(a.stdout.toString(), /STATIC_DATA_END: inferred at PAGE_DATA \(offset \d+\); missing: CPUID and MSR policies/);
    const b = xenmig(['restore', '-', '--into', join(d, 'b'), '--json'], sent.bytes);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout.toString()).pagesWritten, sent.pages.size);
    const raw = await readFile(join(d, 'b', 'memory.raw'));
    for (const [pfn, page] of sent.pages) assert.ok(raw.subarray(pfn * 4096, (pfn + 1) * 4096).equals(page));
    const c = xenmig(['restore', file, '--into', join(d, 'c'), '--min-version', '3']);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /^xenmig: refusing a libxc v2 stream: this receiver accepts v3 or later \(--min-version 3\)\n/);
    assert.deepEqual((await readdir(d)).sort(), ['a', 'b', 's.xl']);
    const e = xenmig(['restore', file, '--into', join(d, 'a')]);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /exists; use --force/);
  }));

test('a truncated stream: exit 1, one line naming where, no image left', () =>
  withTmp(async (d) => {
    const bytes = pvStream().bytes;
    const r = xenmig(['restore', '-', '--into', join(d, 'x')], bytes.subarray(0, bytes.length - 100));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^xenmig: offset \d+ .*truncated.*\n$/);
    assert.deepEqual(await readdir(d), []);
  }));

test('extract --raw and --elf: raw is pfn-addressed; the ELF core has one PT_LOAD per run', () =>
  withTmp(async (d) => {
    const sent = pvStream({ pfns: [0, 1, 2, 7, 9, 10] });
    const file = join(d, 's');
    await writeFile(file, sent.bytes);
    const r = xenmig(['extract', file, '--raw', join(d, 'm.raw'), '--elf', join(d, 'm.core')]);
    assert.equal(r.code, 0, r.stderr);
    const raw = await readFile(join(d, 'm.raw'));
    assert.equal(raw.length, 11 * 4096);
    const core = await readFile(join(d, 'm.core'));
    const dv = new DataView(core.buffer, core.byteOffset, core.length);
    assert.deepEqual([...core.subarray(0, 6)], [0x7f, 0x45, 0x4c, 0x46, 2, 1]);
    assert.equal(dv.getUint16(16, true), 4); // ET_CORE
    const phoff = Number(dv.getBigUint64(32, true));
    const phnum = dv.getUint16(56, true);
    const loads: [number, number, number][] = [];
    // The vcpus' registers come first, in a PT_NOTE (test/domain/elf-notes.test.ts); then one PT_LOAD per run.
    assert.equal(dv.getUint32(phoff, true), 4);
    for (let i = 1; i < phnum; i++) {
      const o = phoff + 56 * i;
      assert.equal(dv.getUint32(o, true), 1);
      loads.push([Number(dv.getBigUint64(o + 8, true)), Number(dv.getBigUint64(o + 24, true)), Number(dv.getBigUint64(o + 32, true))]);
    }
    assert.deepEqual(loads.map(([, paddr, size]) => [paddr / 4096, size / 4096]), [[0, 3], [7, 1], [9, 2]]);
    for (const [off, paddr] of loads) {
      const pfn = paddr / 4096;
      assert.ok(core.subarray(off, off + 4096).equals(sent.pages.get(pfn)!));
      assert.ok(raw.subarray(paddr, paddr + 4096).equals(sent.pages.get(pfn)!));
    }
    const readelf = spawnSync('readelf', ['-l', join(d, 'm.core')]);
    if (readelf.status !== null && !readelf.error) {
      assert.equal(readelf.status, 0);
      assert.equal((readelf.stdout.toString().match(/\bLOAD\b/g) ?? []).length, 3);
    }
  }));

test('convert: v2 -> v3 -> v2 through files and pipes reproduces the input; no overwrite without --force', () =>
  withTmp(async (d) => {
    const v2 = xlWrap(libxlWrap(pvStream({ version: 2 }).bytes));
    const in2 = join(d, 'in2');
    await writeFile(in2, v2);
    const up = xenmig(['convert', '--to', '3', in2, join(d, 'v3')]);
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout.toString(), /inserted STATIC_DATA_END before X86_PV_P2M_FRAMES/);
    const down = xenmig(['convert', '--to', '2', '-', '-'], await readFile(join(d, 'v3')));
    assert.equal(down.code, 0, down.stderr);
    assert.ok(down.stdout.equals(Buffer.from(v2)));
    assert.match(down.stderr, /dropped X86_CPUID_POLICY|dropped STATIC_DATA_END/);
    const again = xenmig(['convert', '--to', '3', in2, join(d, 'v3')]);
    assert.equal(again.code, 2);
    assert.ok((await readFile(in2)).equals(Buffer.from(v2)));
    assert.equal(xenmig(['convert', '--to', '3', in2, in2, '--force']).code, 2);
    assert.deepEqual((await readdir(d)).sort(), ['in2', 'v3']);
  }));

test('convert --unwrap: the bare libxc stream of an xl or libxl one, byte for byte; with --to, converted too; neither flag is a usage error', () =>
  withTmp(async (d) => {
    const bare = pvStream({ version: 2 }).bytes;
    for (const wrapped of [xlWrap(libxlWrap(bare)), libxlWrap(bare), bare]) {
      await writeFile(join(d, 'in'), wrapped);
      const r = xenmig(['convert', '--unwrap', join(d, 'in'), '-']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.equals(Buffer.from(bare)));
    }
    await writeFile(join(d, 'in'), xlWrap(libxlWrap(bare)));
    const up = xenmig(['convert', '--unwrap', '--to', '3', join(d, 'in'), '-']);
    assert.equal(up.code, 0, up.stderr);
    const plain = xenmig(['convert', '--to', '3', '-', '-'], bare);
    assert.ok(up.stdout.equals(plain.stdout));
    const none = xenmig(['convert', join(d, 'in'), join(d, 'out')]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /convert needs --to 2\|3, --unwrap, or both/);
  }));

test('convert --unwrap --checkpointed: the libxc records of a Remus libxl stream, libxl\'s records after each CHECKPOINT left out', () =>
  withTmp(async (d) => {
    const { bytes } = assemble(checkpointedParts({ guest: 'hvm', kind: 'remus', xenstore: true }));
    await writeFile(join(d, 'remus'), bytes);
    const r = xenmig(['convert', '--unwrap', '--checkpointed', join(d, 'remus'), join(d, 'bare')]);
    assert.equal(r.code, 0, r.stderr);
    const dump = xenmig(['dump', join(d, 'bare')]).stdout.toString();
    assert.doesNotMatch(dump, /libxl|EMULATOR|CHECKPOINT_END/);
    assert.equal((dump.match(/ CHECKPOINT /g) ?? []).length, 4); // the live pass and 3 checkpoints
    assert.equal(xenmig(['verify', '--checkpointed', join(d, 'bare')]).code, 0);
    // Not told, the reader takes libxl's records after CHECKPOINT for libxc ones and keeps them.
    xenmig(['convert', '--unwrap', join(d, 'remus'), join(d, 'wrong')]);
    assert.equal(xenmig(['verify', '--checkpointed', join(d, 'wrong')]).code, 1);
  }));

test('restore of a stream whose VERIFY pass disagrees: the image is written, every pfn listed, exit 1', () =>
  withTmp(async (d) => {
    const { concat, hvmContextBody, libxcHeaders, pageDataBody, rec, T } = await import('../support/builder.js');
    const bytes = concat(
      libxcHeaders({ version: 3 }),
      rec(T.STATIC_DATA_END),
      rec(T.PAGE_DATA, pageDataBody([{ pfn: 1 }, { pfn: 2 }])),
      rec(T.HVM_CONTEXT, hvmContextBody()),
      rec(T.VERIFY),
      rec(T.PAGE_DATA, pageDataBody([{ pfn: 1 }, { pfn: 2, page: new Uint8Array(4096) }])),
      rec(T.END),
    );
    const r = xenmig(['restore', '-', '--into', join(d, 'img')], bytes);
    assert.equal(r.code, 1);
    assert.match(r.stdout.toString(), /VERIFY: 2 pages compared, 1 differ: 0x2\n/);
    assert.deepEqual(await readdir(d), ['img']);
  }));
