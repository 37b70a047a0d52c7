import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withTmp } from '../support/tmp.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../bin/xenmig');
const CLI = resolve(fileURLToPath(import.meta.url), '../../../src/cli');

function xenmig(args: string[], cwd?: string) {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: new Uint8Array(0), encoding: 'utf8', ...(cwd ? { cwd } : {}) });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const TAKES_MIN_VERSION: string[][] = [
  ['guard', '--min-version', 'V', '--', 'cat'],
  ['restore', '-', '--into', 'out', '--min-version', 'V'],
  ['extract', '-', '--raw', 'out.raw', '--min-version', 'V'],
  ['receive', '--stdio', '--into', 'out', '--min-version', 'V'],
];

test('--min-version takes 2 or 3 and nothing else, the same way in every command: one line, exit 2, nothing done', () =>
  withTmp(async (dir) => {
    for (const words of TAKES_MIN_VERSION) {
      for (const bad of ['1', '4', '7', '3.0', ' 3', 'three', '']) {
        const r = xenmig(words.map((w) => (w === 'V' ? bad : w)), dir);
        assert.equal(r.code, 2, `${words[0]} --min-version "${bad}": ${r.stderr}`);
        assert.equal(r.stderr, `xenmig: --min-version must be 2 or 3, got "${bad}"\n`, words[0]);
        assert.equal(r.stdout, '');
      }
    }
    assert.deepEqual(readdirSync(dir), [], 'nothing was started or written');
  }, 'xenmig-options-'));

test('save --format refuses an unknown layer before it writes anything', () =>
  withTmp(async (dir) => {
    const r = xenmig(['save', '--memory', '1', '--format', 'qemu', join(dir, 'out')]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'xenmig: --format must be libxc, libxl or xl, got "qemu"\n');
    assert.deepEqual(readdirSync(dir), []);
  }, 'xenmig-options-'));

test('save --vcpus: an HVM sample has at most 128 (Xen would refuse the stream); 128 HVM and 129 PV are saved', () =>
  withTmp(async (dir) => {
    const r = xenmig(['save', '--memory', '1', '--vcpus', '129', join(dir, 'out')]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr, "xenmig: --vcpus 129: an HVM guest has at most 128 vcpus (Xen's HVM_MAX_VCPUS: hvm_load refuses a CPU record of a vcpu above it)\n");
    assert.deepEqual(readdirSync(dir), []);
    for (const words of [['--vcpus', '128'], ['--pv', '--vcpus', '129']]) {
      const ok = xenmig(['save', '--memory', '1', '--quiet', ...words, join(dir, words.join(''))]);
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(xenmig(['verify', join(dir, words.join(''))]).code, 0, words.join(' '));
    }
  }, 'xenmig-options-'));

test('the command modules take exit codes from exit-codes.ts, never from main.ts (which loads them)', () => {
  for (const f of readdirSync(CLI).filter((f) => f.endsWith('.js') && f !== 'main.js')) {
    assert.doesNotMatch(readFileSync(join(CLI, f), 'utf8'), /from '\.\/main\.js'/, f);
  }
});
