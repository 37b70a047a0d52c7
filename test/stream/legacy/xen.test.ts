/**
 * Legacy images against Xen's own code:
 * - Xen 4.17's `convert-legacy-stream` is the judge: for PV (32- and 64-bit toolstacks,
 *   32- and 64-bit guests) and HVM images of several sizes, in each of its output forms
 *   (libxc, libxl, xl-wrapped), `xenmig convert --to 3` writes exactly its bytes, and
 *   `--to 2` exactly what xenmig's v3 -> v2 conversion makes of them;
 * - the real libxc restore (the Xen double's driver over Debian's libxenguest) takes the
 *   converted streams (64-bit PV guests and HVM; the double models no 32-bit PV guest),
 *   with the memory `xenmig restore` gives reading the legacy image directly.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteReader } from '../../../src/io/byte-reader.js';
import { BufferRawSource } from '../../../src/io/raw-source.js';
import { BufferSink } from '../../../src/io/sink.js';
import { convertLegacy, type LegacyOptions } from '../../../src/stream/legacy/index.js';
import { convertStream } from '../../../src/stream/convert.js';
import { readStream } from '../../../src/stream/reader.js';
import { legacyImage, type LegacyImageSpec } from '../../support/legacy-writer.js';
import { converterGate, runConverter } from '../../support/xen-converter.js';
import { buildXenDouble, runXenDouble, xenDoubleGate } from '../../support/xen-double.js';
import { double, imageMemory, xenmig, xenmigOk, type Memory } from '../../support/xen-tools.js';
import { tmpDirFor } from '../../support/tmp.js';

const PAGE = 4096;

async function xenmigConvert(bytes: Uint8Array, to: 2 | 3, legacy: LegacyOptions): Promise<Buffer> {
  const sink = new BufferSink();
  await convertLegacy(new ByteReader(new BufferRawSource(bytes)), sink, { to, legacy });
  return Buffer.from(sink.bytes());
}

/** xenmig's v3 -> v2 conversion of a (libxl or libxc) stream. */
async function toV2(v3: Uint8Array): Promise<Buffer> {
  const sink = new BufferSink();
  await convertStream(readStream(new ByteReader(new BufferRawSource(v3)), { pageContents: 'stream' }), sink, { to: 2 });
  return Buffer.from(sink.bytes());
}

interface Case {
  name: string;
  spec: LegacyImageSpec;
}

const CASES: Case[] = [
  { name: 'PV 64/64, 16 pages', spec: { width: 64, guest: 'pv', pages: 16, vcpus: 1 } },
  { name: 'PV 64/64, 300 pages, 2 vcpus, XTAB filler, unmapped pfns', spec: { width: 64, guest: 'pv', pages: 300, batch: 100, vcpus: 2, xtabFiller: 5, unmapped: 3 } },
  { name: 'PV 64/64, 1100 pages (2 P2M frames, full batches)', spec: { width: 64, guest: 'pv', pages: 1100, vcpus: 1 } },
  { name: 'PV 32-bit toolstack, 64-bit guest, 200 pages', spec: { width: 32, guest: 'pv', pages: 200, batch: 64 } },
  { name: 'PV 32/32, 40 pages, no extv', spec: { width: 32, guest: 'pv', pages: 40, guestWidth: 4, extv: false } },
  { name: 'PV 32/32, 1030 pages (2 P2M frames), xsave', spec: { width: 32, guest: 'pv', pages: 1030, guestWidth: 4, xsave: true, vcpus: 3 } },
  { name: 'PV 64-bit toolstack, 32-bit guest, 16 pages', spec: { width: 64, guest: 'pv', pages: 16, guestWidth: 4 } },
  { name: 'HVM 64, 8 pages', spec: { width: 64, guest: 'hvm', pages: 8 } },
  { name: 'HVM 64, 300 pages, XALLOC entries, many param chunks', spec: { width: 64, guest: 'hvm', pages: 300, batch: 128, xalloc: 3, hvmChunks: [[-3, 0xfeffc000n], [-4, 0xfeff0000n], [-8, 296n], [-10, 1n], [-11, 1n], [-14, 0xfeffb000n], [-15, 0xfeffa000n], [-19, 0xfeff9000n], [-20, 2n]] } },
  { name: 'HVM 64, 1500 pages, 2 vcpus, physmap', spec: { width: 64, guest: 'hvm', pages: 1500, vcpus: 2, physmap: [{ phys: 0xf0000000n, start: 0xfc000000n, size: 0x800000n, name: 'vga.vram' }, { phys: 0xf1000000n, start: 0xfd000000n, size: 0x10000n, name: 'e1000.rom' }] } },
  { name: 'HVM 32, 300 pages, physmap', spec: { width: 32, guest: 'hvm', pages: 300, batch: 50, physmap: [{ phys: 0xf0000000n, start: 0xfc000000n, size: 0x800000n, name: 'vga.vram' }] } },
  { name: 'HVM 32, 8 pages, no qemu tail', spec: { width: 32, guest: 'hvm', pages: 8, qemu: null } },
];

const conv = converterGate();
if (conv.skip) test("legacy conversion is byte for byte Xen's convert-legacy-stream", { skip: conv.skip }, () => {});
else
  describe("legacy conversion is byte for byte Xen's convert-legacy-stream", () => {
    for (const c of CASES) {
      test(c.name, async (t) => {
        const dir = tmpDirFor(t, 'xenmig-legacy-xen-');
        const { bytes } = legacyImage(c.spec);
        const input = join(dir, 'in.img');
        writeFileSync(input, bytes);
        const hasQemu = c.spec.guest === 'hvm' && c.spec.qemu !== null;
        const formats: ('libxc' | 'libxl')[] = hasQemu || c.spec.guest === 'pv' ? ['libxc', 'libxl'] : ['libxc'];
        for (const format of formats) {
          const out = join(dir, `${format}.xen`);
          const extra = ['-f', format, ...(c.spec.guest === 'hvm' && !hasQemu ? ['--skip-qemu'] : [])];
          const r = runConverter(input, out, c.spec.width, c.spec.guest, extra);
          assert.equal(r.code, 0, `convert-legacy-stream ${extra.join(' ')}: ${r.stderr}`);
          const xen = readFileSync(out);
          const mine = await xenmigConvert(bytes, 3, { wrap: format });
          assert.equal(mine.length, xen.length, `${format}: ${mine.length} octets, Xen's converter wrote ${xen.length}`);
          assert.ok(mine.equals(xen), `${format}: same length, different octets (first at ${mine.findIndex((b, i) => b !== xen[i])})`);
          // v2: what xenmig's v3 -> v2 makes of Xen's output (a libxc conversion with a qemu tail is not a stream alone).
          if (format === 'libxl' || !hasQemu) assert.ok((await xenmigConvert(bytes, 2, { wrap: format })).equals(await toV2(xen)), `${format} --to 2`);
        }
      });
    }

    test('a batch of XTAB fillers only: both write a PAGE_DATA with count 0, which verify reports', async (t) => {
      const dir = tmpDirFor(t, 'xenmig-legacy-xen-');
      const b = Buffer.from(legacyImage({ width: 64, guest: 'hvm', pages: 4, tsc: false }).bytes);
      const fillers = Buffer.alloc(4 + 16);
      fillers.writeInt32LE(2, 0);
      fillers.writeBigUInt64LE(0xf0000000n, 4);
      fillers.writeBigUInt64LE(0xf0000000n, 12);
      const bytes = Buffer.concat([b.subarray(0, 8), fillers, b.subarray(8)]);
      const input = join(dir, 'in.img');
      writeFileSync(input, bytes);
      const r = runConverter(input, join(dir, 'out.xen'), 64, 'hvm', ['-f', 'libxl']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok((await xenmigConvert(bytes, 3, { wrap: 'libxl' })).equals(readFileSync(join(dir, 'out.xen'))));
      const v = xenmig(['verify', input]);
      assert.equal(v.code, 1);
      assert.match(v.stdout, /error: offset 8 \(0x8\), libxc, record #1, PAGE_DATA: PAGE_DATA body length 8, expected at least 16 \[length-invalid\]/);
    });

    test('the CLI writes the same bytes, width and guest type detected; an xl-wrapped image is the xl header (stream-v2 flag set) and the libxl conversion', async (t) => {
      const dir = tmpDirFor(t, 'xenmig-legacy-xen-');
      const spec: LegacyImageSpec = { width: 32, guest: 'hvm', pages: 64, xlConfig: '{"c_info":{"name":"old-guest"}}', physmap: [{ phys: 0xf0000000n, start: 0xfc000000n, size: 0x800000n, name: 'vga.vram' }] };
      const { bytes } = legacyImage(spec);
      const input = join(dir, 'xl.img');
      writeFileSync(input, bytes);
      // Debian's python3 converter cannot skip an xl header (`-x` compares bytes with a str and always
      // fails): convert what follows the header and put the header, with the stream-v2 flag, in front.
      const optLen = Buffer.from(bytes).readUInt32LE(44);
      const headerLen = 48 + optLen;
      const rest = join(dir, 'rest.img');
      writeFileSync(rest, bytes.subarray(headerLen));
      const r = runConverter(rest, join(dir, 'rest.xen'), 32, 'hvm', ['-f', 'libxl']);
      assert.equal(r.code, 0, r.stderr);
      const header = Buffer.from(bytes.subarray(0, headerLen));
      header.writeUInt32LE(header.readUInt32LE(36) | 2, 36);
      const expected = Buffer.concat([header, readFileSync(join(dir, 'rest.xen'))]);
      const out = join(dir, 'xl.v3');
      const printed = xenmigOk(['convert', '--to', '3', '--quiet', input, out]);
      assert.match(printed, /converted legacy image \(xl header, 32-bit toolstack, HVM, p2m_size 64, qemu tail "DeviceModelRecord0002"\) -> libxc v3 \(xl > libxl > libxc\)/);
      assert.ok(readFileSync(out).equals(expected));
      // The bare image, through the CLI with nothing forced.
      const bare = join(dir, 'bare.img');
      writeFileSync(bare, bytes.subarray(headerLen));
      xenmigOk(['convert', '--to', '3', '--quiet', '--legacy-wrap', 'libxl', bare, join(dir, 'bare.v3')]);
      assert.ok(readFileSync(join(dir, 'bare.v3')).equals(readFileSync(join(dir, 'rest.xen'))));
    });
  });

/** The pages of `runs`, read from `raw`. */
function pages(raw: string, runs: [number, number][], skip: Set<number> = new Set()): Map<number, Buffer> {
  const fd = openSync(raw, 'r');
  const out = new Map<number, Buffer>();
  try {
    for (const [first, count] of runs) {
      for (let pfn = first; pfn < first + count; pfn++) {
        if (skip.has(pfn)) continue;
        const b = Buffer.alloc(PAGE);
        readSync(fd, b, 0, PAGE, pfn * PAGE);
        out.set(pfn, b);
      }
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

function assertSamePages(a: Memory, b: Memory, skip: Set<number>, what: string): void {
  assert.deepEqual(a.runs, b.runs, `${what}: populated pfns`);
  const pa = pages(a.raw, a.runs, skip);
  const pb = pages(b.raw, b.runs, skip);
  const differ = [...pa.keys()].filter((pfn) => !pa.get(pfn)!.equals(pb.get(pfn)!));
  assert.deepEqual(differ.slice(0, 8), [], `${what}: ${differ.length} page(s) differ`);
}

const RESTORE_CASES: Case[] = [
  { name: 'PV 64-bit guest, 64-bit toolstack, 2 vcpus', spec: { width: 64, guest: 'pv', pages: 600, batch: 200, vcpus: 2, xtabFiller: 2 } },
  { name: 'PV 64-bit guest, 32-bit toolstack', spec: { width: 32, guest: 'pv', pages: 300, vcpus: 1 } },
  { name: 'HVM, 64-bit toolstack', spec: { width: 64, guest: 'hvm', pages: 600, vcpus: 1, physmap: [{ phys: 0xf0000000n, start: 0xfc000000n, size: 0x800000n, name: 'vga.vram' }] } },
  { name: 'HVM, 32-bit toolstack, 2 vcpus', spec: { width: 32, guest: 'hvm', pages: 1500, vcpus: 2 } },
];

const dbl = xenDoubleGate();
if (dbl.skip) test('converted legacy images restore in real libxc', { skip: dbl.skip }, () => {});
else
  describe('converted legacy images restore in real libxc', () => {
    before(async () => {
      await buildXenDouble();
    });
    for (const c of RESTORE_CASES) {
      test(c.name, async (t) => {
        const work = tmpDirFor(t, 'xenmig-legacy-restore-');
        const input = join(work, 'legacy.img');
        writeFileSync(input, legacyImage(c.spec).bytes);
        const flag = c.spec.guest === 'pv' ? '--pv' : '--hvm';
        const vcpus = String(c.spec.vcpus ?? 1);
        // xenmig restores the legacy image directly: the reference memory.
        const image = join(work, 'image');
        xenmigOk(['restore', input, '--into', image, '--quiet']);
        const { memory: mine, p2m } = await imageMemory(image);
        for (const to of ['2', '3']) {
          // As libxl would take it (libxl v2 with the legacy bit), then the bare libxc stream xc_domain_restore reads.
          const wrapped = join(work, `v${to}.libxl`);
          const bare = join(work, `v${to}.libxc`);
          xenmigOk(['convert', '--to', to, '--legacy-wrap', 'libxl', '--quiet', input, wrapped]);
          xenmigOk(['convert', '--unwrap', '--quiet', wrapped, bare]);
          const dir = join(work, `v${to}.dom`);
          mkdirSync(dir);
          const r = await runXenDouble(dir, ['restore', '--in', bare, flag, '--memory', '16', '--vcpus', vcpus]);
          assert.equal(r.code, 0, `real xc_domain_restore of the v${to} conversion failed: ${r.stderr}`);
          const answer = JSON.parse(r.stdout) as { rc: number; missing: number };
          assert.equal(answer.rc, 0);
          assert.equal(answer.missing, 3, 'no CPUID or MSR policy in a converted legacy stream');
          const raw = join(work, `v${to}.real.raw`);
          const dump = JSON.parse(await double(dir, ['dump', '--raw', raw, ...(c.spec.guest === 'pv' ? ['--by-pfn'] : []), '--json'])) as {
            populatedRanges: [number, number][];
            pv?: { startInfoPfn: number };
          };
          // libxc rewrites a PV guest's P2M frames and start info for the new host; every other page is as sent.
          const skip = new Set<number>(c.spec.guest === 'pv' ? [dump.pv!.startInfoPfn, ...(p2m?.p2mPfns ?? []).map(Number)] : []);
          assertSamePages(mine, { raw, runs: dump.populatedRanges }, skip, `v${to}`);
        }
      });
    }
  });
