/** verify / info / dump / restore on checkpointed libxl streams, as a user runs them. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { assemble, checkpointedParts } from '../support/checkpointed.js';

const BIN = resolve('bin/xenmig');
let dir = '';
let remus = '';
let colo = '';
let coloAt = 0;
let cut = '';

function xenmig(args: string[]): { code: number; stdout: string; stderr: string } {
  const res = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'xenmig-ckpt-'));
  remus = join(dir, 'remus');
  colo = join(dir, 'colo');
  const r = assemble(checkpointedParts({ guest: 'hvm', checkpoints: 1 }));
  await writeFile(remus, r.bytes);
  cut = join(dir, 'cut');
  // Inside checkpoint 2's EMULATOR_CONTEXT: its CHECKPOINT_END never arrives.
  await writeFile(cut, r.bytes.subarray(0, r.after('checkpoint 2') + 12));
  const c = assemble(checkpointedParts({ guest: 'pv', kind: 'colo', checkpoints: 1 }));
  coloAt = c.after('end 1');
  await writeFile(colo, c.bytes);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('verify: --checkpointed for Remus, --colo for COLO; a COLO stream verified as Remus is not conforming', () => {
  assert.deepEqual(xenmig(['verify', '--checkpointed', remus]), { code: 0, stdout: 'conforming: 0 error(s), 0 warning(s)\n', stderr: '' });
  assert.deepEqual(xenmig(['verify', '--colo', colo]), { code: 0, stdout: 'conforming: 0 error(s), 0 warning(s)\n', stderr: '' });
  const wrong = xenmig(['verify', '--checkpointed', colo]);
  assert.equal(wrong.code, 1);
  assert.equal(
    wrong.stdout.split('\n')[0],
    `error: offset ${coloAt} (0x${coloAt.toString(16)}), libxc, record #10, X86_PV_VCPU_EXTENDED: X86_PV_VCPU_EXTENDED body length 4, expected at least 8 [length-invalid]`,
  );
});

test('info counts the checkpoints and those closed; dump shows the libxl records in place', () => {
  const info = xenmig(['info', '--checkpointed', remus]);
  assert.equal(info.code, 0);
  assert.ok(info.stdout.includes('checkpoints:      2 (Remus), 2 closed by CHECKPOINT_END\n'), info.stdout);
  const infoColo = xenmig(['info', '--colo', colo]);
  assert.ok(infoColo.stdout.includes('checkpoints:      2 (COLO), 2 closed by CHECKPOINT_END and CHECKPOINT_STATE\n'), infoColo.stdout);
  const dump = xenmig(['dump', '--colo', colo]);
  assert.equal(dump.code, 0);
  const names = dump.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(1, 4).join(' '));
  const i = names.indexOf('libxc #9 CHECKPOINT');
  assert.deepEqual(names.slice(i, i + 4), ['libxc #9 CHECKPOINT', 'libxl #1 CHECKPOINT_END', 'libxl #2 CHECKPOINT_STATE', 'libxc #10 PAGE_DATA']);
});

test('restore --checkpointed of a stream cut inside a checkpoint restores the one before', () => {
  const whole = xenmig(['restore', '--checkpointed', '--quiet', '--json', '--into', join(dir, 'whole'), remus]);
  assert.equal(whole.code, 0, whole.stderr);
  assert.equal(JSON.parse(whole.stdout).checkpoints, 2);
  const res = xenmig(['restore', '--checkpointed', '--quiet', '--json', '--into', join(dir, 'img'), cut]);
  assert.equal(res.code, 0, res.stderr);
  const out = JSON.parse(res.stdout);
  assert.equal(out.checkpoints, 1);
  assert.match(out.failover.reason, /libxl, record #3, EMULATOR_CONTEXT: stream truncated: EMULATOR_CONTEXT body and padding needs 32 octet\(s\), only 4 left$/);
  const plain = xenmig(['restore', '--quiet', '--into', join(dir, 'img2'), cut]);
  assert.equal(plain.code, 1);
});
