/**
 * The guard between xenmig's own xl-speaking ends: `xenmig migrate --ssh-command` as
 * the sending xl, `xenmig receive --stdio` as the receiving one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { samplePolicyPath } from '../../src/policy/samples.js';
import { XENMIG } from './harness.js';
import { tmpDirFor } from '../support/tmp.js';

const COMPATIBLE = samplePolicyPath('intel-icelake-sp.txt');
const INCOMPATIBLE = samplePolicyPath('amd-zen2-rome.txt');
const DOMAIN = ['--memory', '8', '--dirty-rate', '0', '--quiet'];

function xenmig(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [XENMIG, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

const guardCommand = (guardArgs: string, into: string): string => `node ${XENMIG} guard ${guardArgs} -- node ${XENMIG} receive --stdio --quiet --into ${into}`;

for (const preflight of [false, true]) {
  test(`a compatible migration${preflight ? ' (with the xenmig preflight)' : ''} arrives; the tee equals a direct save`, async (t) => {
    const dir = tmpDirFor(t, 'xenmig-standin-');
    const tee = join(dir, 'tee.xl');
    const log = join(dir, 'guard.log');
    const m = await xenmig([
      'migrate',
      ...DOMAIN,
      ...(preflight ? [] : ['--no-preflight']),
      '--ssh-command',
      guardCommand(`--host-policy ${COMPATIBLE} --tee ${tee} --log ${log}`, join(dir, 'image')),
    ]);
    assert.equal(m.code, 0, m.stderr);
    assert.ok(existsSync(join(dir, 'image')));
    const saved = join(dir, 'saved.xl');
    const s = await xenmig(['save', ...DOMAIN, '--live', '--format', 'xl', saved]);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(readFileSync(tee), readFileSync(saved));
    const text = readFileSync(log, 'utf8');
    assert.match(text, /static data: compatible: the HVM guest's CPU policy against .*intel-icelake-sp\.txt/);
    assert.match(text, /receiver: status byte 0/);
    if (preflight) assert.match(text, /sender: xenmig preflight request.*\n.*receiver: xenmig preflight verdict: accept/);
  });
}

test('an incompatible host: no page reaches the receiver, no image is left, the sender keeps its domain', async (t) => {
  const dir = tmpDirFor(t, 'xenmig-standin-');
  const log = join(dir, 'guard.log');
  const m = await xenmig(['migrate', ...DOMAIN, '--no-preflight', '--ssh-command', guardCommand(`--host-policy ${INCOMPATIBLE} --log ${log}`, join(dir, 'image'))]);
  assert.notEqual(m.code, 0);
  assert.match(m.stderr, /xenmig guard: stopped the migration: the destination cannot run this guest \(offset (\d+) .*STATIC_DATA_END\)/);
  assert.match(m.stderr, /xenmig guard: {3}- CPU policy \(host "HVM Max"\): vendor differs: the guest's is Intel, the host's is AMD/);
  // The failure came before the point of no return: the sender never suspended for good.
  assert.doesNotMatch(m.stderr, /may be running at the receiver/);
  const sde = Number(/STATIC_DATA_END, record #2, offset (\d+)/.exec(readFileSync(log, 'utf8'))![1]);
  const got = Number(/the receiver got (\d+) of/.exec(readFileSync(log, 'utf8'))![1]);
  assert.ok(got < sde + 8, `the receiver got ${got} octets, STATIC_DATA_END ends at ${sde + 8}`);
  assert.deepEqual(readdirSync(dir).sort(), ['guard.log']);
});
