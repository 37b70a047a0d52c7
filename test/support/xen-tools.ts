/**
 * What the real-Xen tests share: running xenmig and the double and failing with their
 * output, and walking or patching a bare libxc stream's records.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runXenDouble } from './xen-double.js';
import { MemoryImage } from '../../src/domain/image/memory-image.js';
import type { P2mFrames } from '../../src/domain/types.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../bin/xenmig');

export function xenmig(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { maxBuffer: 1 << 26, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** xenmig's stdout; a non-zero exit fails the test with everything it printed. */
export function xenmigOk(args: string[]): string {
  const r = xenmig(args);
  assert.equal(r.code, 0, `xenmig ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The double's stdout for `xen-double ARGS` on the domain in `dir`; a failure fails the test. */
export async function double(dir: string, args: string[]): Promise<string> {
  const r = await runXenDouble(dir, args);
  assert.equal(r.code, 0, `xen-double ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** verify's last line says conforming with no errors or warnings (v2 streams add an info line). */
export function assertClean(out: string): void {
  const lines = out.trim().split('\n');
  assert.equal(lines.at(-1), 'conforming: 0 error(s), 0 warning(s)', out);
  assert.deepEqual(lines.filter((l) => /^(error|warning):/.test(l)), [], out);
}

export interface Rec {
  type: number;
  /** Of the record header. */
  offset: number;
  length: number;
}

/** The records of a bare libxc stream (24-octet image + 16-octet domain header), END included. */
export function records(buf: Buffer): Rec[] {
  const out: Rec[] = [];
  let off = 40;
  while (off + 8 <= buf.length) {
    const type = buf.readUInt32LE(off);
    const length = buf.readUInt32LE(off + 4);
    out.push({ type, offset: off, length });
    off += 8 + ((length + 7) & ~7);
    if (type === 0) break;
  }
  return out;
}

/** Replace one record's body (re-padding to 8 octets). */
export function replaceRecord(buf: Buffer, rec: Rec, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(rec.type, 0);
  head.writeUInt32LE(body.length, 4);
  const pad = Buffer.alloc(((body.length + 7) & ~7) - body.length);
  const end = rec.offset + 8 + ((rec.length + 7) & ~7);
  return Buffer.concat([buf.subarray(0, rec.offset), head, body, pad, buf.subarray(end)]);
}

/** A domain's memory: a sparse pfn-addressed file and the runs of pfns it has ([first, count]). */
export interface Memory {
  raw: string;
  runs: [number, number][];
}

/** Consecutive pfns (ascending) as [first, count] runs. */
function runsOf(pfns: readonly number[]): [number, number][] {
  const runs: [number, number][] = [];
  for (const pfn of pfns) {
    const last = runs.at(-1);
    if (last && last[0] + last[1] === pfn) last[1]++;
    else runs.push([pfn, 1]);
  }
  return runs;
}

/** A memory image xenmig wrote, read through the library: memory.raw, its populated runs, its P2M frames. */
export async function imageMemory(dir: string): Promise<{ memory: Memory; p2m: P2mFrames | undefined }> {
  const img = await MemoryImage.open(dir);
  try {
    return { memory: { raw: join(dir, 'memory.raw'), runs: runsOf(await img.populatedPfns()) }, p2m: await img.getP2mFrames() };
  } finally {
    await img.close();
  }
}
