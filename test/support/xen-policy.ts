/**
 * Xen's own CPU policy code, as a test oracle: test/xen/policy-helper.c linked against
 * Debian's libxenguest 4.17, built once per process into a scratch directory (removed
 * when the process exits) and run as one long-lived child that answers one line per
 * request (see the helper's header for the requests). Whether it can run here is
 * xenDoubleGate()'s question (the same packages and gcc).
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { CpuidEntry, MsrEntry } from '../../src/format/records.js';
import { XEN_DOUBLE_SRC, xenDoubleAvailable } from './xen-double.js';

/** The Xen version of the library the helper links (Debian bookworm's libxenguest). */
export const HELPER_XEN_VERSION = '4.17';

let built: string | undefined;

/** Build policy-helper (once per process); returns its path. */
export function buildPolicyHelper(): string {
  if (built !== undefined) return built;
  const why = xenDoubleAvailable();
  if (why) throw new Error(`policy helper unavailable: ${why}`);
  const dir = mkdtempSync(join(tmpdir(), 'xenmig-policy-helper-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'policy-helper');
  const r = spawnSync(
    'gcc',
    ['-O2', '-Wall', '-Werror', '-D__XEN_TOOLS__', '-o', out, join(XEN_DOUBLE_SRC, 'policy-helper.c'), '-lxenguest', '-lxenctrl', '-lxentoollog'],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`building policy-helper failed (${r.status}): ${r.stderr.trim()}`);
  built = out;
  return out;
}

export function cpuidHex(entries: readonly CpuidEntry[]): string {
  if (entries.length === 0) return '-';
  const b = Buffer.alloc(24 * entries.length);
  entries.forEach((e, i) => {
    [e.leaf, e.subleaf, e.eax, e.ebx, e.ecx, e.edx].forEach((v, j) => b.writeUInt32LE(v >>> 0, i * 24 + j * 4));
  });
  return b.toString('hex');
}

export function msrHex(entries: readonly MsrEntry[]): string {
  if (entries.length === 0) return '-';
  const b = Buffer.alloc(16 * entries.length);
  entries.forEach((m, i) => {
    b.writeUInt32LE(m.index >>> 0, i * 16);
    b.writeUInt32LE(m.flags >>> 0, i * 16 + 4);
    b.writeBigUInt64LE(BigInt.asUintN(64, m.value), i * 16 + 8);
  });
  return b.toString('hex');
}

export function parseCpuidHex(hex: string): CpuidEntry[] {
  if (hex === '-') return [];
  const b = Buffer.from(hex, 'hex');
  const out: CpuidEntry[] = [];
  for (let o = 0; o < b.length; o += 24) {
    out.push({ leaf: b.readUInt32LE(o), subleaf: b.readUInt32LE(o + 4), eax: b.readUInt32LE(o + 8), ebx: b.readUInt32LE(o + 12), ecx: b.readUInt32LE(o + 16), edx: b.readUInt32LE(o + 20) });
  }
  return out;
}

/** One running helper; requests may be pipelined (answers come back in order). */
export class PolicyHelper {
  private readonly waiting: Array<(line: string) => void> = [];
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = '';
  /** FEATURESET_NR_ENTRIES of the linked library. */
  featuresetWords = 0;

  private constructor(path: string) {
    this.child = spawn(path, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
    this.child.on('exit', (code) => {
      for (const w of this.waiting.splice(0)) w(`error helper exited ${code}: ${this.stderr.trim()}`);
    });
  }

  static async start(): Promise<PolicyHelper> {
    const h = new PolicyHelper(buildPolicyHelper());
    const ready = await new Promise<string>((resolve) => h.waiting.push(resolve));
    const m = /^ready (\d+)$/.exec(ready);
    if (!m) throw new Error(`policy-helper did not start: ${ready}`);
    h.featuresetWords = Number(m[1]);
    return h;
  }

  request(line: string): Promise<string> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.child.stdin.write(line + '\n');
    });
  }

  /** Xen's load + serialise: the entries it writes, or why it refused. */
  async serialise(cpuid: readonly CpuidEntry[], msrs: readonly MsrEntry[]): Promise<{ ok: true; cpuid: string; msrs: string } | { ok: false; answer: string }> {
    const a = await this.request(`ser ${cpuidHex(cpuid)} ${msrHex(msrs)}`);
    const m = /^ok (\S+) (\S+)$/.exec(a);
    return m ? { ok: true, cpuid: m[1]!, msrs: m[2]! } : { ok: false, answer: a };
  }

  stop(): void {
    this.child.stdin.end();
  }
}
