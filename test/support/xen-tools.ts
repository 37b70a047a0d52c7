/**
 * What the real-Xen tests share: running xenmig and the double and failing with their
 * output, and walking or patching a bare libxc stream's records.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runXenDouble } from './xen-double.js';

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
