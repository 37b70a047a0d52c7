import { test } from 'node:test';
import assert from 'node:assert/strict';
import { elfCoreTables, ELF_DATA_BASE } from '../../src/domain/image/elf-core.js';

test('ELF header fields: ET_CORE x86-64, program headers after the data, one PT_LOAD per run', () => {
  const { header, tables, tablesAt } = elfCoreTables([{ start: 0, count: 2 }, { start: 0x100, count: 1 }], 0x100);
  const h = new DataView(header.buffer);
  assert.equal(tablesAt, ELF_DATA_BASE + 0x101 * 4096);
  assert.deepEqual([...header.subarray(0, 8)], [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
  assert.deepEqual([h.getUint16(16, true), h.getUint16(18, true), h.getUint32(20, true)], [4, 62, 1]);
  assert.equal(h.getBigUint64(32, true), BigInt(tablesAt));
  assert.deepEqual([h.getUint16(52, true), h.getUint16(54, true), h.getUint16(56, true)], [64, 56, 2]);
  const t = new DataView(tables.buffer);
  assert.equal(tables.length, 2 * 56);
  // Second run: pfn 0x100 -> paddr 0x100000, file offset 1 MiB (the data's start) + 0x100000.
  assert.deepEqual(
    [t.getUint32(56, true), t.getBigUint64(64, true), t.getBigUint64(72, true), t.getBigUint64(80, true), t.getBigUint64(88, true), t.getBigUint64(104, true)],
    [1, 0x200000n, 0x100000n, 0x100000n, 4096n, 4096n],
  );
});

test('65535 runs or more: e_phnum is PN_XNUM and section header 0 carries the count', () => {
  const runs = Array.from({ length: 70000 }, (_, i) => ({ start: 2 * i, count: 1 }));
  const { header, tables, tablesAt } = elfCoreTables(runs, 2 * 69999);
  const h = new DataView(header.buffer);
  assert.equal(h.getUint16(56, true), 0xffff);
  const shoff = Number(h.getBigUint64(40, true));
  assert.equal(shoff, tablesAt + 70000 * 56);
  assert.deepEqual([h.getUint16(58, true), h.getUint16(60, true)], [64, 1]);
  assert.equal(new DataView(tables.buffer).getUint32(shoff - tablesAt + 44, true), 70000);
});
