/** bin/xenmig as a shell script and as a node script, and the environment it hands on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { restoreLauncherEnvironment } from '../../src/cli/main.js';

const BIN = resolve('bin/xenmig');
// Node warns on stderr at start-up when this file cannot be read: the warning shows
// whether the node process was started with the variable.
const MISSING_CERTS = '/nonexistent/xenmig-test-ca.pem';

test('run as a script, bin/xenmig starts node without NODE_EXTRA_CA_CERTS', () => {
  const r = spawnSync(BIN, ['--version'], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: MISSING_CERTS } });
  assert.equal(r.status, 0);
  assert.equal(r.stdout, '0.1.0\n');
  assert.equal(r.stderr, '');
});

test('run by node, bin/xenmig is the same command (and node has read the variable)', () => {
  const r = spawnSync(process.execPath, [BIN, '--version'], { encoding: 'utf8', env: { ...process.env, NODE_EXTRA_CA_CERTS: MISSING_CERTS } });
  assert.equal(r.status, 0);
  assert.equal(r.stdout, '0.1.0\n');
  assert.match(r.stderr, /extra certs/);
});

test('the variable the launcher set aside is put back for child processes', () => {
  const env: NodeJS.ProcessEnv = { XENMIG_NODE_EXTRA_CA_CERTS: '/etc/ca.pem' };
  restoreLauncherEnvironment(env);
  assert.deepEqual(env, { NODE_EXTRA_CA_CERTS: '/etc/ca.pem' });
  const untouched: NodeJS.ProcessEnv = { PATH: '/bin' };
  restoreLauncherEnvironment(untouched);
  assert.deepEqual(untouched, { PATH: '/bin' });
});

test('the command line runs from the bundle, and this node accepts its code cache', async () => {
  const { loadCli } = await import('../../src/cli/launch.cjs');
  const { main, script } = await loadCli();
  assert.ok(script, 'npm run build makes dist/bundle/cli/xenmig.cjs, newer than dist/src/cli/main.js');
  assert.equal(script.cachedDataRejected, false);
  assert.equal(typeof main, 'function');
});

test('only commands that read and print may exit as soon as their output is out', async () => {
  const { printsOnly } = await import('../../src/cli/commands.js');
  assert.equal(printsOnly(['verify', 'a.xl']), true);
  assert.equal(printsOnly(['--quiet', 'dump', '--json', 'a.xl']), true);
  for (const args of [['migrate', '--to', 'h:1'], ['receive', '--stdio'], ['guard', '--', 'ssh'], ['--help'], []]) {
    assert.equal(printsOnly(args), false, args.join(' '));
  }
});
