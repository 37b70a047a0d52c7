/**
 * The ELF core's notes: NT_PRSTATUS and QEMU's CPU state per vcpu, laid out as QEMU's
 * dump-guest-memory lays them out, read back by gdb and crash when they are installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ELF_DATA_BASE, PRSTATUS_SIZE, QEMU_CPU_STATE_SIZE, elfCoreTables, qemuSegmentFlags, vcpuNotes } from '../../src/domain/image/elf-core.js';
import { MemoryFilesSink } from '../../src/domain/image/memory-files.js';
import { hvmVcpuRegisters } from '../../src/domain/image/vcpu-state.js';
import { sampleHvmContext } from '../../src/domain/simulated/sample.js';
import { restoreStream } from '../../src/restore/index.js';
import type { VcpuRegisters } from '../../src/format/vcpu-registers.js';
import { tmpDirFor } from '../support/tmp.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../bin/xenmig');
const GDB = '/usr/bin/gdb';
const CRASH = '/usr/bin/crash';

function xenmig(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { maxBuffer: 1 << 26 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

interface Note {
  name: string;
  type: number;
  desc: Uint8Array;
}

/** The notes of an ELF core, found through e_phoff and its PT_NOTE, as any reader finds them. */
function readNotes(core: Uint8Array): { notes: Note[]; phoff: number; types: number[] } {
  const dv = new DataView(core.buffer, core.byteOffset, core.length);
  const phoff = Number(dv.getBigUint64(32, true));
  const phnum = dv.getUint16(56, true);
  const types = Array.from({ length: phnum }, (_, i) => dv.getUint32(phoff + 56 * i, true));
  const notes: Note[] = [];
  for (let i = 0; i < phnum; i++) {
    if (types[i] !== 4) continue;
    const off = Number(dv.getBigUint64(phoff + 56 * i + 8, true));
    const size = Number(dv.getBigUint64(phoff + 56 * i + 32, true));
    for (let o = off; o < off + size; ) {
      const namesz = dv.getUint32(o, true);
      const descsz = dv.getUint32(o + 4, true);
      const type = dv.getUint32(o + 8, true);
      const name = Buffer.from(core.subarray(o + 12, o + 12 + namesz - 1)).toString('latin1');
      const d = o + 12 + ((namesz + 3) & ~3);
      notes.push({ name, type, desc: core.subarray(d, d + descsz) });
      o = d + ((descsz + 3) & ~3);
    }
  }
  return { notes, phoff, types };
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

test('NT_PRSTATUS and the QEMU note: pid, user_regs_struct order, QEMUCPUState fields at QEMU offsets', () => {
  const regs = hvmVcpuRegisters(sampleHvmContext(2, 7));
  assert.deepEqual(regs.map((r) => [r.vcpu, r.mode, r.online]), [[0, 'long', true], [1, 'long', true]]);
  const notes = readNotes(coreWith(regs)).notes;
  assert.deepEqual(notes.map((n) => [n.name, n.type, n.desc.length]), [
    ['CORE', 1, PRSTATUS_SIZE], ['CORE', 1, PRSTATUS_SIZE], ['QEMU', 0, QEMU_CPU_STATE_SIZE], ['QEMU', 0, QEMU_CPU_STATE_SIZE],
  ]);
  const r = regs[1]!;
  const pr = new DataView(notes[1]!.desc.buffer, notes[1]!.desc.byteOffset, PRSTATUS_SIZE);
  const reg = (i: number): bigint => pr.getBigUint64(112 + 8 * i, true);
  assert.equal(pr.getUint32(32, true), 2); // pr_pid = vcpu + 1
  assert.deepEqual([reg(0), reg(10), reg(14), reg(15), reg(16), reg(17), reg(18), reg(19), reg(20)], [r.r15, r.rax, r.rdi, 0n, r.rip, 0x10n, r.rflags, r.rsp, 0x18n]);
  const q = new DataView(notes[3]!.desc.buffer, notes[3]!.desc.byteOffset, QEMU_CPU_STATE_SIZE);
  assert.deepEqual([q.getUint32(0, true), q.getUint32(4, true)], [1, 440]);
  assert.deepEqual([q.getBigUint64(8, true), q.getBigUint64(8 + 8 * 16, true), q.getBigUint64(8 + 8 * 17, true)], [r.rax, r.rip, r.rflags]);
  // cs at 152: selector, limit, flags (long-mode code: type b, S, P, L, G), base.
  assert.deepEqual([q.getUint32(152, true), q.getUint32(156, true), q.getUint32(160, true)], [0x10, 0xffffffff, 0xa09b00]);
  assert.equal(qemuSegmentFlags(0xa9b), 0xa09b00);
  // gdt (segment 8) and idt (9): limit and base; cr[5] at 392; kernel_gs_base at 432.
  assert.deepEqual([q.getUint32(152 + 24 * 8 + 4, true), q.getBigUint64(152 + 24 * 8 + 16, true)], [0x7f, 0x3000n]);
  assert.deepEqual([q.getUint32(152 + 24 * 9 + 4, true), q.getBigUint64(152 + 24 * 9 + 16, true)], [0xfff, 0x4000n]);
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => q.getBigUint64(392 + 8 * i, true)), [0x80050033n, 0n, 0n, 0x1000n, 0x6f0n]);
});

/** A core of two pages for these vcpus, built from the tables alone. */
function coreWith(regs: VcpuRegisters[]): Uint8Array {
  const { header, tables, tablesAt, end } = elfCoreTables([{ start: 0, count: 2 }], 1, vcpuNotes(regs));
  const core = new Uint8Array(end);
  core.set(header, 0);
  core.set(tables, tablesAt);
  return core;
}

test('where the tables go: before the data when they fit in the megabyte before it (as QEMU and crash have them), else after it', () => {
  const regs = hvmVcpuRegisters(sampleHvmContext(128, 1));
  const few = elfCoreTables([{ start: 0, count: 2 }], 1, vcpuNotes(regs.slice(0, 8)));
  assert.equal(ELF_DATA_BASE, 0x100000);
  assert.equal(few.tablesAt, 64);
  assert.equal(few.end, ELF_DATA_BASE + 2 * 4096);
  // 1,300 vcpus (a PV guest may have them; 1,284 fit) and two runs: after the data.
  const manyRegs = Array.from({ length: 1300 }, (_, i) => regs[i % regs.length]!);
  const many = elfCoreTables([{ start: 0, count: 2 }], 1, vcpuNotes(manyRegs));
  assert.equal(many.tablesAt, ELF_DATA_BASE + 2 * 4096);
  assert.equal(many.end, many.tablesAt + 2 * 56 + 1300 * 816);
  for (const t of [few, many]) {
    const core = new Uint8Array(t.end);
    core.set(t.header, 0);
    core.set(t.tables, t.tablesAt);
    const { notes, types } = readNotes(core);
    assert.deepEqual(types, [4, 1]);
    assert.equal(notes.length, 2 * (t === few ? 8 : 1300));
  }
  // The room: 128 vcpus (816 octets of notes each) and 16,857 runs fit, 16,858 do not
  // (64 + 56 x (runs + PT_NOTE) + 816 x 128 <= 1 MiB).
  const runs = (n: number) => Array.from({ length: n }, (_, i) => ({ start: 2 * i, count: 1 }));
  assert.equal(elfCoreTables(runs(16857), 2 * 16856, vcpuNotes(regs)).tablesAt, 64);
  assert.equal(elfCoreTables(runs(16858), 2 * 16857, vcpuNotes(regs)).tablesAt, ELF_DATA_BASE + (2 * 16857 + 1) * 4096);
  // Without notes nothing moves: the tables stay after the data, PT_LOADs only.
  assert.equal(elfCoreTables([{ start: 0, count: 2 }], 1).tablesAt, ELF_DATA_BASE + 2 * 4096);
});

function gdbRegisters(core: string, thread: number): Map<string, bigint> {
  const r = spawnSync(GDB, ['-nx', '-batch', '-ex', 'set architecture i386:x86-64', '-ex', `thread ${thread}`, '-ex', 'info registers rip rsp rax eflags cs ss fs_base gs_base', '-c', core], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return new Map([...r.stdout.matchAll(/^(\w+)\s+(0x[0-9a-f]+)/gm)].map((m) => [m[1]!, BigInt(m[2]!)]));
}

test('extract --elf of an HVM stream with 2 vcpus (and of its restored image, the same core): gdb shows each vcpu\'s registers; crash takes the core and its notes', async (t) => {
  const d = tmpDirFor(t);
  const stream = join(d, 'vm.xl');
  assert.equal(xenmig(['save', '--memory', '4', '--vcpus', '2', '--format', 'xl', '--quiet', stream]).code, 0);
  const out = xenmig(['extract', stream, '--elf', join(d, 'vm.core'), '--quiet']);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout, /\(ELF core, 2 PT_LOAD, registers of 2 vcpu\(s\) in notes\)/);
  const sink = await MemoryFilesSink.create({ elf: join(d, 'again.core') });
  await restoreStream(stream, sink);
  const expected = sink.vcpuRegisters();
  assert.equal(expected.length, 2);
  const { notes, phoff, types } = readNotes(await readFile(join(d, 'vm.core')));
  assert.equal(phoff, 64);
  assert.deepEqual(types, [4, 1, 1]);
  assert.equal(notes.length, 4);
  assert.ok(Buffer.from(await readFile(join(d, 'vm.core'))).equals(await readFile(join(d, 'again.core'))));
  // From the memory image restore writes (vcpu state from its domain.json): the same core.
  assert.equal(xenmig(['restore', stream, '--into', join(d, 'img'), '--quiet']).code, 0);
  const fromImage = xenmig(['extract', join(d, 'img'), '--elf', join(d, 'img.core')]);
  assert.equal(fromImage.code, 0, fromImage.stderr);
  assert.match(fromImage.stdout, /^extracted \d+ pfns of memory from the memory image .*img to .*img\.core \(ELF core, 2 PT_LOAD, registers of 2 vcpu\(s\) in notes\)\n$/);
  assert.ok(Buffer.from(await readFile(join(d, 'vm.core'))).equals(await readFile(join(d, 'img.core'))));

  if (!existsSync(GDB)) return t.skip(`${GDB} is not installed (apt-get install gdb)`);
  for (const r of expected) {
    const seen = gdbRegisters(join(d, 'vm.core'), r.vcpu + 1);
    assert.equal(hex(seen.get('rip')!), hex(r.rip), `vcpu ${r.vcpu} rip`);
    assert.equal(hex(seen.get('rsp')!), hex(r.rsp), `vcpu ${r.vcpu} rsp`);
    assert.equal(hex(seen.get('rax')!), hex(r.rax), `vcpu ${r.vcpu} rax`);
    assert.equal(seen.get('cs'), BigInt(r.cs.selector));
  }
  if (!existsSync(CRASH)) return t.skip(`${CRASH} is not installed (apt-get install crash): gdb checked only`);
  // Without a vmlinux crash goes no further than reading the dump's headers and notes (-d1 prints them).
  const c = spawnSync(CRASH, ['-d1', '--minimal', join(d, 'vm.core')], { encoding: 'utf8', input: '', timeout: 60_000 });
  assert.match(c.stdout, /flags: \w+ \(NETDUMP_LOCAL\|NETDUMP_ELF64\)/);
  assert.match(c.stdout, /num_prstatus_notes: 2/);
  assert.match(c.stdout, /num_qemu_notes: 2/);
  assert.match(c.stdout, /n_type: 0 \(QEMUCPUState\)\s+version: 1 {2}size: 440/);
  assert.ok(c.stdout.includes(`RIP: ${expected[0]!.rip.toString(16).padStart(16, '0')}`), 'crash reads vcpu 0 rip');
});

test('extract --elf: a 64-bit PV guest\'s vcpus; 8 HVM vcpus keep the tables before the data, where crash wants them; 1,300 PV vcpus put them after it, where gdb still finds them', async (t) => {
  const d = tmpDirFor(t);
  assert.equal(xenmig(['save', '--pv', '--memory', '4', '--vcpus', '2', '--quiet', join(d, 'pv')]).code, 0);
  assert.equal(xenmig(['extract', join(d, 'pv'), '--elf', join(d, 'pv.core'), '--quiet']).code, 0);
  assert.equal(xenmig(['save', '--memory', '4', '--vcpus', '8', '--quiet', join(d, 'hvm8')]).code, 0);
  assert.equal(xenmig(['extract', join(d, 'hvm8'), '--elf', join(d, 'hvm8.core'), '--quiet']).code, 0);
  assert.equal(xenmig(['save', '--pv', '--memory', '4', '--vcpus', '1300', '--quiet', join(d, 'pv1300')]).code, 0);
  assert.equal(xenmig(['extract', join(d, 'pv1300'), '--elf', join(d, 'pv1300.core'), '--quiet']).code, 0);
  const pv = readNotes(await readFile(join(d, 'pv.core')));
  assert.equal(pv.notes.filter((n) => n.name === 'CORE').length, 2);
  const eight = readNotes(await readFile(join(d, 'hvm8.core')));
  assert.equal(eight.phoff, 64);
  assert.equal(eight.notes.length, 16);
  const big = readNotes(await readFile(join(d, 'pv1300.core')));
  assert.ok(big.phoff > ELF_DATA_BASE);
  assert.equal(big.notes.length, 2600);
  if (!existsSync(GDB)) return t.skip(`${GDB} is not installed (apt-get install gdb)`);
  const pvRip = gdbRegisters(join(d, 'pv.core'), 2).get('rip')!;
  const pr = new DataView(pv.notes[1]!.desc.buffer, pv.notes[1]!.desc.byteOffset, PRSTATUS_SIZE);
  assert.equal(pvRip, pr.getBigUint64(112 + 16 * 8, true));
  assert.ok(pvRip >= 0xffffffff80000000n, `a PV kernel rip, got ${hex(pvRip)}`);
  const prRip = (notes: typeof big.notes, i: number): bigint => new DataView(notes[i]!.desc.buffer, notes[i]!.desc.byteOffset, PRSTATUS_SIZE).getBigUint64(112 + 16 * 8, true);
  assert.equal(gdbRegisters(join(d, 'hvm8.core'), 8).get('rip')!, prRip(eight.notes, 7));
  assert.equal(gdbRegisters(join(d, 'pv1300.core'), 1300).get('rip')!, prRip(big.notes, 1299));
  if (!existsSync(CRASH)) return t.skip(`${CRASH} is not installed (apt-get install crash): gdb checked only`);
  const c = spawnSync(CRASH, ['-d1', '--minimal', join(d, 'hvm8.core')], { encoding: 'utf8', input: '', timeout: 60_000 });
  assert.match(c.stdout, /num_prstatus_notes: 8/);
  assert.match(c.stdout, /num_qemu_notes: 8/);
});
