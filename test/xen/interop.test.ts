/**
 * xenmig against Xen's own code, both ways, through the hypervisor double:
 * - streams Debian's real libxc 4.17 writes (xc_domain_save): xenmig verify passes them,
 *   info and dump read them right, `restore` gives the memory real xc_domain_restore
 *   gives, `extract --raw` the memory that was saved, and `convert --to 2` restores in
 *   real libxc with CPUID and MSR policies missing;
 * - streams xenmig writes (v2, v3, live, debug, 1-4 vcpus, each layer unwrapped to libxc):
 *   real xc_domain_restore takes them, its memory equals `xenmig restore`'s and
 *   static_data_done says what was missing.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { tmpDirFor } from '../support/tmp.js';
import { assertClean, double, imageMemory, xenmigOk, type Memory } from '../support/xen-tools.js';
import { buildXenDouble, runXenDouble, xenDoubleGate } from '../support/xen-double.js';

const PAGE = 4096;
const MIB = 16;

interface RestoreAnswer {
  rc: number;
  missing: number;
  checkpoints: number;
}

/** The double's domain in `dir`, dumped: its memory file and populated runs. */
async function dumpDouble(dir: string, raw: string): Promise<Memory> {
  const j = JSON.parse(await double(dir, ['dump', '--raw', raw, '--json'])) as { populatedRanges: [number, number][] };
  return { raw, runs: j.populatedRanges };
}

/** Real xc_domain_restore of a bare libxc stream into a fresh double domain. */
async function realRestore(work: string, name: string, stream: string, opts: { vcpus?: number; memoryMiB?: number; checkpointed?: boolean } = {}): Promise<{ answer: RestoreAnswer; memory: Memory }> {
  const dir = join(work, `${name}.dom`);
  mkdirSync(dir);
  const args = ['restore', '--in', stream, '--hvm', '--memory', String(opts.memoryMiB ?? MIB), '--vcpus', String(opts.vcpus ?? 4)];
  if (opts.checkpointed) args.push('--checkpointed');
  const r = await runXenDouble(dir, args);
  assert.equal(r.code, 0, `real xc_domain_restore of ${name} failed: ${r.stderr}`);
  return { answer: JSON.parse(r.stdout) as RestoreAnswer, memory: await dumpDouble(dir, join(work, `${name}.real.raw`)) };
}

/** The pages of `runs`, read from `raw` (files are sparse and reach 4 GiB: read only what is populated). */
function read(raw: string, runs: [number, number][]): Buffer {
  const fd = openSync(raw, 'r');
  try {
    return Buffer.concat(
      runs.map(([first, count]) => {
        const b = Buffer.alloc(count * PAGE);
        readSync(fd, b, 0, b.length, first * PAGE);
        return b;
      }),
    );
  } finally {
    closeSync(fd);
  }
}

/** The same pfns, the same bytes; on a difference, the first pfns that differ. */
function assertSameMemory(a: Memory, b: Memory, what: string): void {
  assert.deepEqual(a.runs, b.runs, `${what}: populated pfns`);
  const x = read(a.raw, a.runs);
  const y = read(b.raw, b.runs);
  if (x.equals(y)) return;
  const pfns = a.runs.flatMap(([first, count]) => Array.from({ length: count }, (_, i) => first + i));
  const differ = pfns.filter((_, i) => !x.subarray(i * PAGE, (i + 1) * PAGE).equals(y.subarray(i * PAGE, (i + 1) * PAGE)));
  assert.fail(`${what}: ${differ.length} page(s) differ: ${differ.slice(0, 8).map((p) => '0x' + p.toString(16)).join(', ')}`);
}

const gate = xenDoubleGate();

if (gate.skip) test('xenmig and Xen 4.17 read and restore each other\'s HVM streams', { skip: gate.skip }, () => {});
else describe('xenmig and Xen 4.17 read and restore each other\'s HVM streams', () => {
  before(async () => {
    await buildXenDouble();
  });

  const xenCases = [
    { name: 'non-live', save: [] as string[], vcpus: 1, memoryMiB: MIB },
    { name: 'live, 2 vcpus, dirtying', save: ['--live', '--dirty', '64'], vcpus: 2, memoryMiB: MIB },
    { name: 'live --debug', save: ['--live', '--debug', '--dirty', '16'], vcpus: 1, memoryMiB: MIB },
    { name: '256 MiB, live, 2 vcpus', save: ['--live', '--dirty', '256'], vcpus: 2, memoryMiB: 256 },
  ];
  for (const c of xenCases) {
    test(`what real libxc writes (${c.name}): xenmig verifies it clean, restores what Xen restores, extracts what was saved`, async (t) => {
      const work = tmpDirFor(t, 'xenmig-interop-');
      const src = join(work, 'src');
      mkdirSync(src);
      await double(src, ['create', '--hvm', '--memory', String(c.memoryMiB), '--vcpus', String(c.vcpus), '--seed', '31']);
      const stream = join(work, 'xen.stream');
      await double(src, ['save', '--out', stream, ...c.save]);
      const saved = await dumpDouble(src, join(work, 'saved.raw'));

      assertClean(xenmigOk(['verify', stream]));
      const { summary } = JSON.parse(xenmigOk(['info', '--json', stream])) as {
        summary: { libxc: { guestType: string; version: number; xenMajor: number; xenMinor: number }; vcpus: number[] };
      };
      assert.equal(summary.libxc.guestType, 'hvm');
      assert.equal(summary.libxc.version, 3);
      assert.deepEqual([summary.libxc.xenMajor, summary.libxc.xenMinor], [4, 17]);
      assert.deepEqual(summary.vcpus, Array.from({ length: c.vcpus }, (_, i) => i));
      const dump = xenmigOk(['dump', stream]);
      assert.match(dump, /HVM_CONTEXT/);
      assert.match(dump, /HVM_PARAMS .*STORE_PFN=0x[0-9a-f]+ .*CONSOLE_PFN=0x[0-9a-f]+/);

      const extracted = join(work, 'extracted.raw');
      xenmigOk(['extract', stream, '--raw', extracted, '--quiet']);
      assertSameMemory({ raw: extracted, runs: saved.runs }, saved, 'extract --raw vs the memory saved');

      const image = join(work, 'image');
      const restored = xenmigOk(['restore', stream, '--into', image, '--quiet']);
      assert.match(restored, /zeroed as libxc's restorer does: .*STORE_PFN .*CONSOLE_PFN/);
      const real = await realRestore(work, 'xen', stream, { vcpus: c.vcpus, memoryMiB: c.memoryMiB });
      assert.deepEqual(real.answer, { ...real.answer, rc: 0, missing: 0 });
      assertSameMemory((await imageMemory(image)).memory, real.memory, 'xenmig restore vs real xc_domain_restore');

      const v2 = join(work, 'xen.v2');
      xenmigOk(['convert', '--to', '2', stream, v2, '--quiet']);
      assertClean(xenmigOk(['verify', v2]));
      const realV2 = await realRestore(work, 'xenv2', v2, { vcpus: c.vcpus, memoryMiB: c.memoryMiB });
      assert.equal(realV2.answer.missing, 3, 'a v2 stream carries no CPUID (1) nor MSR (2) policy');
      assertSameMemory(realV2.memory, real.memory, 'the v2 stream restores the same memory');
    });
  }

  const ours = [
    { name: 'v3 libxc', save: ['--format', 'libxc'], missing: 0 },
    { name: 'v2 libxc', save: ['--format', 'libxc', '--stream-version', '2'], missing: 3 },
    { name: 'v3 xl, 1 vcpu', save: ['--format', 'xl', '--vcpus', '1'], missing: 0 },
    { name: 'v3 libxl, 4 vcpus', save: ['--format', 'libxl', '--vcpus', '4'], missing: 0 },
    { name: 'v3 live with a workload', save: ['--live', '--dirty-rate', '20000'], missing: 0 },
    { name: 'v3 live --debug', save: ['--live', '--debug', '--dirty-rate', '5000'], missing: 0 },
    { name: 'v3 Remus, 3 checkpoints, libxl', save: ['--format', 'libxl', '--dirty-rate', '20000', '--checkpoint-interval', '20', '--checkpoints', '3'], missing: 0, checkpoints: 4 },
    { name: 'v2 Remus, 2 checkpoints, libxc', save: ['--stream-version', '2', '--dirty-rate', '20000', '--checkpoint-interval', '20', '--checkpoints', '2'], missing: 3, checkpoints: 3 },
  ];
  for (const c of ours) {
    test(`what xenmig writes (${c.name}): real xc_domain_restore takes it, with the memory xenmig restores`, async (t) => {
      const work = tmpDirFor(t, 'xenmig-interop-');
      const saved = join(work, 'ours.stream');
      xenmigOk(['save', '--memory', String(MIB), '--seed', '5', ...c.save, saved]);
      const checkpointed = c.checkpoints !== undefined ? ['--checkpointed'] : [];
      assertClean(xenmigOk(['verify', ...checkpointed, saved]));
      const bare = join(work, 'ours.libxc');
      xenmigOk(['convert', '--unwrap', ...checkpointed, saved, bare, '--quiet']);
      const image = join(work, 'image');
      xenmigOk(['restore', ...checkpointed, saved, '--into', image, '--quiet']);
      const real = await realRestore(work, 'ours', bare, { checkpointed: checkpointed.length > 0 });
      assert.equal(real.answer.rc, 0);
      assert.equal(real.answer.missing, c.missing);
      assert.equal(real.answer.checkpoints, c.checkpoints ?? 0, 'CHECKPOINT records libxc went on after');
      assertSameMemory((await imageMemory(image)).memory, real.memory, 'xenmig restore vs real xc_domain_restore');
    });
  }
});
