/**
 * Every structure layout xenmig reads HVM save records and PV vcpu state through,
 * checked against Debian's libxen-dev 4.17 headers by the C compiler: the test writes
 * one `_Static_assert` per field (offsetof and sizeof) and per structure (sizeof) from
 * the TypeScript Layout objects, and gcc -fsyntax-only refuses a wrong offset. The
 * 32-bit guest structures come from xen/foreign/x86_32.h, which declares them for a
 * 64-bit compiler (4-octet packing, the i386 branch), so no -m32 is needed.
 * Fields past 4.17's size (a later Xen's, e.g. LAPIC pending_esr of 4.18) cannot be
 * checked here and are listed by the test.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FieldKind, Layout } from '../../src/format/layout.js';
import type { CStructRef } from '../../src/format/hvm/save-record.js';
import { HVM_SAVE_RECORDS } from '../../src/format/hvm/table.js';
import { HVM_HW_CPU_COMPAT_LAYOUT } from '../../src/format/hvm/cpu.js';
import { HVM_ONE_MSR_LAYOUT } from '../../src/format/hvm/cpu-msr.js';
import {
  EXT_VCPUCONTEXT_C,
  EXT_VCPUCONTEXT_LAYOUT,
  SHARED_INFO_X86_32_C,
  SHARED_INFO_X86_32_LAYOUT,
  SHARED_INFO_X86_64_C,
  SHARED_INFO_X86_64_LAYOUT,
  VCPU_GUEST_CONTEXT_X86_32_C,
  VCPU_GUEST_CONTEXT_X86_32_LAYOUT,
  VCPU_GUEST_CONTEXT_X86_64_C,
  VCPU_GUEST_CONTEXT_X86_64_LAYOUT,
  VCPU_INFO_X86_32_C,
  VCPU_INFO_X86_32_LAYOUT,
  VCPU_INFO_X86_64_C,
  VCPU_INFO_X86_64_LAYOUT,
  VCPU_MSR_C,
  VCPU_MSR_LAYOUT,
} from '../../src/format/pv/index.js';

type AnyLayout = Layout<Record<string, FieldKind>>;

const STRUCTS: { layout: AnyLayout; c: CStructRef }[] = [
  ...Object.values(HVM_SAVE_RECORDS).map((m) => ({ layout: m.layout, c: m.c! })),
  { layout: HVM_HW_CPU_COMPAT_LAYOUT as unknown as AnyLayout, c: { type: 'struct hvm_hw_cpu_compat', size: 1016 } },
  { layout: HVM_ONE_MSR_LAYOUT as unknown as AnyLayout, c: { type: 'struct hvm_one_msr', size: 16 } },
  { layout: VCPU_GUEST_CONTEXT_X86_64_LAYOUT, c: VCPU_GUEST_CONTEXT_X86_64_C },
  { layout: VCPU_GUEST_CONTEXT_X86_32_LAYOUT, c: VCPU_GUEST_CONTEXT_X86_32_C },
  { layout: EXT_VCPUCONTEXT_LAYOUT as unknown as AnyLayout, c: EXT_VCPUCONTEXT_C },
  { layout: VCPU_MSR_LAYOUT as unknown as AnyLayout, c: VCPU_MSR_C },
  { layout: SHARED_INFO_X86_64_LAYOUT, c: SHARED_INFO_X86_64_C },
  { layout: SHARED_INFO_X86_32_LAYOUT, c: SHARED_INFO_X86_32_C },
  { layout: VCPU_INFO_X86_64_LAYOUT as unknown as AnyLayout, c: VCPU_INFO_X86_64_C },
  { layout: VCPU_INFO_X86_32_LAYOUT as unknown as AnyLayout, c: VCPU_INFO_X86_32_C },
];

const HEADERS = ['/usr/include/xen/hvm/save.h', '/usr/include/xen/arch-x86/hvm/save.h', '/usr/include/xen/domctl.h', '/usr/include/xen/foreign/x86_64.h', '/usr/include/xen/foreign/x86_32.h'];

function gate(): { skip: string | false } {
  let why: string | null = null;
  const missing = HEADERS.find((h) => !existsSync(h));
  if (missing) why = `${missing} is missing`;
  else {
    try {
      execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    } catch {
      why = 'gcc is missing';
    }
  }
  if (why === null) return { skip: false };
  if (process.env.XENMIG_REQUIRE_XEN === '1') throw new Error(`XENMIG_REQUIRE_XEN=1 but the layout test cannot run: ${why}`);
  return { skip: `skipped: ${why}; to run it: apt-get install libxen-dev gcc` };
}

/** The C source asserting every checked field's offset and size and every structure's size; and the fields past 4.17's size. */
export function layoutAssertions(): { source: string; asserts: number; unchecked: string[] } {
  const lines = ['#define __XEN_TOOLS__ 1', '#include <stddef.h>', '#include <stdint.h>', '#include <xen/xen.h>', '#include <xen/hvm/save.h>', '#include <xen/domctl.h>', '#include <xen/foreign/x86_64.h>', '#include <xen/foreign/x86_32.h>', ''];
  const unchecked: string[] = [];
  let asserts = 0;
  const a = (cond: string, what: string): void => {
    lines.push(`_Static_assert(${cond}, ${JSON.stringify(what)});`);
    asserts++;
  };
  for (const { layout, c } of STRUCTS) {
    a(`sizeof(${c.type}) == ${c.size}`, `sizeof(${c.type}) is ${c.size} (layout ${layout.name})`);
    for (const f of layout.fields) {
      if (f.offset >= c.size) {
        unchecked.push(`${layout.name}.${f.name}`);
        continue;
      }
      const member = c.members && f.name in c.members ? c.members[f.name] : f.name;
      if (member === null || member === undefined) continue;
      a(`offsetof(${c.type}, ${member}) == ${f.offset}`, `${c.type}.${member} at ${f.offset}`);
      a(`sizeof(((${c.type} *)0)->${member}) == ${f.size}`, `${c.type}.${member} is ${f.size} octet(s)`);
    }
  }
  return { source: lines.join('\n') + '\n', asserts, unchecked };
}

test('every layout\'s fields tile its structure up to 4.17\'s size, with no gap and no overlap', () => {
  for (const { layout, c } of STRUCTS) {
    assert.ok(layout.size >= c.size, `${layout.name}: ${layout.size} < ${c.size}`);
    assert.ok(layout.fields.some((f) => f.offset + f.size === c.size), `${layout.name}: no field ends at ${c.type}'s size ${c.size}`);
  }
});

test('gcc agrees with every offset and size xenmig uses (Debian libxen-dev 4.17 headers)', gate(), () => {
  const { source, asserts, unchecked } = layoutAssertions();
  const dir = mkdtempSync(join(tmpdir(), 'xenmig-layouts-'));
  try {
    const file = join(dir, 'layouts.c');
    writeFileSync(file, source);
    try {
      execFileSync('gcc', ['-fsyntax-only', '-std=gnu11', '-Wall', file], { stdio: 'pipe' });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
      assert.fail(`the layouts disagree with Xen's headers:\n${stderr.split('\n').filter((l) => /error/.test(l)).slice(0, 20).join('\n')}`);
    }
    assert.ok(asserts > 500, `only ${asserts} assertions`);
    // Fields of later Xen versions, which 4.17's headers cannot check.
    assert.deepEqual(unchecked, ['hvm_hw_lapic.pending_esr', 'hvm_hw_lapic.pad_esr']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
