/** The commands as a user runs them: bin/xenmig in a child, exit codes and exact output. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { libxlWrap, sampleHvmV3, xlWrap, T } from '../support/builder.js';
import { hvmRecords, libxcBytes, r } from '../verify/streams.js';

const BIN = resolve('bin/xenmig');
let dir = '';
const files: Record<string, string> = {};

function xenmig(args: string[], input?: Uint8Array): { code: number; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [BIN, ...args], { input, encoding: 'utf8', timeout: 30_000 });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenmig-cli-'));
  const streams: Record<string, Uint8Array> = {
    good: xlWrap(libxlWrap(sampleHvmV3({ pages: 3 }))),
    bare: sampleHvmV3({ pages: 2 }),
    toolstack: libxcBytes([...hvmRecords().slice(0, 4), r(T.TOOLSTACK, new Uint8Array(4)), ...hvmRecords().slice(4)]),
  };
  for (const [name, bytes] of Object.entries(streams)) {
    files[name] = join(dir, name);
    await writeFile(files[name]!, bytes);
  }
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('verify: exit 0 and one verdict line for a conforming stream, from a file, with --read-all and from a pipe', () => {
  for (const args of [['verify', files.good!], ['verify', '--read-all', files.good!]]) {
    assert.deepEqual(xenmig(args), { code: 0, stdout: 'conforming: 0 error(s), 0 warning(s)\n', stderr: '' });
  }
  const piped = xenmig(['verify', '-'], sampleHvmV3({ pages: 3 }));
  assert.deepEqual(piped, { code: 0, stdout: 'conforming: 0 error(s), 0 warning(s)\n', stderr: '' });
});

test('verify: exit 1 with the diagnostic naming offset, record and expectation', () => {
  const res = xenmig(['verify', files.toolstack!]);
  assert.equal(res.code, 1);
  assert.equal(
    res.stdout,
    'error: offset 8336 (0x2090), libxc, record #4, TOOLSTACK: TOOLSTACK record: deprecated, a conforming stream has none [toolstack-record]\n' +
      'NOT conforming: 1 error(s), 0 warning(s)\n',
  );
  const cut = xenmig(['verify', '-'], sampleHvmV3({ pages: 3 }).subarray(0, 200));
  assert.equal(cut.code, 1);
  assert.equal(
    cut.stdout,
    'error: offset 104 (0x68), libxc, record #3, PAGE_DATA: stream truncated: PAGE_DATA page contents needs 12288 octet(s), only 56 left [truncated]\n' +
      'NOT conforming: 1 error(s), 0 warning(s)\n',
  );
});

test('verify --json: verdict, diagnostics with codes, and the summary', () => {
  const res = xenmig(['verify', '--json', files.toolstack!]);
  assert.equal(res.code, 1);
  const out = JSON.parse(res.stdout) as { conforming: boolean; diagnostics: { code: string; location: object }[]; summary: { layers: string[] } };
  assert.equal(out.conforming, false);
  assert.deepEqual(out.diagnostics.map((d) => d.code), ['toolstack-record']);
  assert.deepEqual(out.diagnostics[0]!.location, { offset: 8336, layer: 'libxc', recordIndex: 4, recordType: 'TOOLSTACK' });
  assert.deepEqual(out.summary.layers, ['libxc']);
});

test('usage and I/O errors exit 2 with one line', () => {
  const missing = xenmig(['verify', join(dir, 'nope')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^xenmig: cannot open .*nope: ENOENT/);
  assert.equal(missing.stderr.trim().split('\n').length, 1);
  assert.equal(xenmig(['verify', '--format', 'xml', files.good!]).code, 2);
  assert.equal(xenmig(['verify', dir]).code, 2);
  const wrongLayer = xenmig(['verify', '--format', 'libxl', files.bare!]);
  assert.equal(wrongLayer.code, 1);
  assert.match(wrongLayer.stdout, /libxl header: ident 0xffffffffffffffff, expected 0x4c6962786c466d74/);
});

test('dump: every record with offset, type, length and fields; PAGE_DATA squashed unless --pages', () => {
  const res = xenmig(['dump', files.bare!]);
  assert.equal(res.code, 0);
  assert.deepEqual(res.stdout.split('\n'), [
    '0x00000000  libxc header  v3, little-endian, x86 HVM, page_shift 12, Xen 4.19',
    '0x00000028  libxc #0 X86_CPUID_POLICY  len 24  1 leaf/leaves: 0x00000000:0xffffffff -> 0x0000000d:0x756e6547:0x6c65746e:0x49656e69',
    '0x00000048  libxc #1 X86_MSR_POLICY  len 16  1 MSR(s): 0x000000ce -> 0x0000000000000000',
    '0x00000060  libxc #2 STATIC_DATA_END  len 0',
    '0x00000068  libxc #3 PAGE_DATA  len 8216  2 pfn(s) [NOTAB 2], pfn 0x0-0x1, 2 page(s) of data',
    '0x00002088  libxc #4 X86_TSC_INFO  len 24  mode 0, 2000000 kHz, 123456789 ns, incarnation 1',
    '0x000020a8  libxc #5 HVM_CONTEXT  len 1080  1080 octet(s), 2 save record(s), 1 vcpu(s)',
    '    0x0000  HEADER: magic 0x54381286, version 1, changeset 0x0, cpuid 0x000906ea, 2400000 kHz',
    '    0x0020  vcpu 0: protected, rip 0x0 rsp 0x0 cr0 0x11 cr3 0x0 cr4 0x0 efer 0x0 (interrupts disabled)',
    '0x000024e8  libxc #6 HVM_PARAMS  len 40  2 param(s): STORE_PFN=0xfeffe CONSOLE_PFN=0xfefff',
    '0x00002518  libxc #7 END  len 0',
    '',
  ]);
  const json = xenmig(['dump', '--json', '--pages', files.good!]);
  assert.equal(json.code, 0);
  const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { kind?: string; typeName?: string; fields: { pfns?: unknown[]; pairs?: unknown } });
  assert.deepEqual(lines.map((l) => l.kind ?? l.typeName), ['xl-header', 'libxl-header', 'LIBXC_CONTEXT', 'libxc-header', 'X86_CPUID_POLICY', 'X86_MSR_POLICY', 'STATIC_DATA_END', 'PAGE_DATA', 'X86_TSC_INFO', 'HVM_CONTEXT', 'HVM_PARAMS', 'END', 'END']);
  assert.deepEqual(lines[7]!.fields.pfns, [{ pfn: 0, type: 'NOTAB' }, { pfn: 1, type: 'NOTAB' }, { pfn: 2, type: 'NOTAB' }]);
});

test('dump squashes consecutive PAGE_DATA records into one line with counts by type', async () => {
  const { pageDataBody } = await import('../support/builder.js');
  const recs = hvmRecords();
  const more = [...recs.slice(0, 4), r(T.PAGE_DATA, pageDataBody([{ pfn: 7 }, { pfn: 8, type: 15 }])), r(T.PAGE_DATA, pageDataBody([{ pfn: 9, type: 14 }])), ...recs.slice(4)];
  const path = join(dir, 'squash');
  await writeFile(path, libxcBytes(more));
  const lines = xenmig(['dump', path]).stdout.split('\n');
  assert.equal(lines[4], '0x00000068  libxc #3-#5 PAGE_DATA x3  len 12360  6 pfn(s) [NOTAB 3, XTAB 2, XALLOC 1], pfn 0x0-0x9, 3 page(s) of data');
  const each = xenmig(['dump', '--pages', path]).stdout.split('\n');
  assert.equal(each.filter((l) => l.includes('PAGE_DATA')).length, 3);
});

test('info: one screen about the stream, exit 0 when conforming', () => {
  const res = xenmig(['info', files.good!]);
  assert.equal(res.code, 0);
  const rows = Object.fromEntries(res.stdout.trim().split('\n').map((l) => [l.slice(0, 18).replace(/:\s*$/, ''), l.slice(18)]));
  assert.equal(rows['layers'], 'xl > libxl > libxc');
  assert.equal(rows['libxc stream'], 'v3, little-endian, page shift 12');
  assert.equal(rows['guest type'], 'x86 HVM');
  assert.equal(rows['xen version'], '4.19');
  assert.equal(rows['memory'], '12.00 KiB (3 distinct pfns, 0x0-0x2; 3 page(s) sent)');
  assert.equal(rows['cpuid policy'], 'present, 1 leaves');
  assert.equal(rows['static data end'], 'explicit, record #2 at offset 201');
  assert.equal(rows['verdict'], 'conforming, 0 error(s), 0 warning(s)');
  assert.equal(xenmig(['info', files.toolstack!]).code, 1);
});
