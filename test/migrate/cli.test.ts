import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { samplePolicyPath } from '../../src/policy/samples.js';
import { withTmp } from '../support/tmp.js';
import { BIN, run, type Run } from '../support/cli-run.js';


/** `xenmig receive --listen 127.0.0.1:0 ...`: its port, and its result when it exits. */
async function receiver(args: string[]): Promise<{ port: number; done: Promise<Run> }> {
  const child = spawn(process.execPath, [BIN, 'receive', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  const done = new Promise<Run>((resolve) => child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr })));
  const port = await new Promise<number>((resolve) => {
    createInterface({ input: child.stderr }).on('line', (l) => {
      stderr += l + '\n';
      const m = /listening on [^\s]+:(\d+)$/.exec(l);
      if (m) resolve(Number(m[1]));
    });
  });
  return { port, done };
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);

test('receive --listen + migrate --to: both exit 0, the image appears, the summary names rounds and downtime', async () => {
  await withTmp(async (dir) => {
    const into = join(dir, 'img');
    const r = await receiver(['--into', into, '--host-policy', samplePolicyPath('intel-icelake-sp.txt')]);
    const m = await run(['migrate', '--to', `127.0.0.1:${r.port}`, '--memory', '4', '--dirty-rate', '3000', '--quiet']);
    const rr = await r.done;
    assert.equal(m.code, 0, m.stderr);
    assert.equal(rr.code, 0, rr.stderr);
    assert.match(m.stdout, /^migrated: \d+ octets/m);
    assert.match(m.stdout, /^rounds: \d+, pages per round: 1024/m);
    assert.match(m.stdout, /^downtime \(suspend to the receiver's ready\): [\d.]+ ms$/m);
    assert.ok(await exists(join(into, 'memory.raw')));
  });
});

test('migrate --preflight-only: 0 accepted, 1 refused (reasons on both sides, nothing created), 2 nobody to ask', async () => {
  await withTmp(async (dir) => {
    const ok = await receiver(['--into', join(dir, 'a'), '--host-policy', samplePolicyPath('intel-icelake-sp.txt')]);
    const m1 = await run(['migrate', '--to', `127.0.0.1:${ok.port}`, '--memory', '4', '--preflight-only', '--quiet']);
    assert.equal(m1.code, 0, m1.stderr);
    assert.match(m1.stdout, /preflight accepted/);
    assert.equal((await ok.done).code, 0);
    assert.equal(await exists(join(dir, 'a')), false);

    const no = await receiver(['--into', join(dir, 'b'), '--host-policy', samplePolicyPath('amd-zen2-rome.txt')]);
    const m2 = await run(['migrate', '--to', `127.0.0.1:${no.port}`, '--memory', '4', '--preflight-only']);
    const r2 = await no.done;
    assert.equal(m2.code, 1, m2.stderr);
    assert.match(m2.stderr, /refused the domain at preflight/);
    assert.match(m2.stderr, /vendor/i);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /preflight: refused the domain: .*vendor/i);
    assert.equal(await exists(join(dir, 'b')), false);

    const m3 = await run(['migrate', '--to', '127.0.0.1:1', '--memory', '4', '--preflight-only', '--quiet']);
    assert.equal(m3.code, 2);
    assert.match(m3.stderr, /^xenmig: could not ask the receiver: cannot connect to 127\.0\.0\.1:1/);
  });
});

test('migrate --ssh-command through a stdio pipe pair (`xenmig receive --stdio`), as xl migrate runs ssh', async () => {
  await withTmp(async (dir) => {
    const into = join(dir, 'img');
    const cmd = `"${process.execPath}" "${BIN}" receive --stdio --into "${into}" --quiet`;
    const m = await run(['migrate', '--ssh-command', cmd, '--pv', '--memory', '4', '--quiet']);
    assert.equal(m.code, 0, m.stderr);
    assert.ok(await exists(join(into, 'memory.raw')));
  });
});

test('demo: a small live migration between two processes, the copy proved exact', async () => {
  const d = await run(['demo', '--memory', '16', '--dirty-rate', '2000', '--quiet']);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /memory at suspend vs the receiver's image: 4064 pages hashed, 0 differ/);
  assert.match(d.stdout, /^RESULT: the copy is exact$/m);
});

test('save writes a stream that verifies; bad flags exit 2', async () => {
  await withTmp(async (dir) => {
    const out = join(dir, 's.xl');
    const s = await run(['save', '--memory', '2', '--format', 'xl', '--live', '--dirty-rate', '1000', '--quiet', out]);
    assert.equal(s.code, 0, s.stderr);
    const v = await run(['verify', out]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
    const bad = await run(['save', '--memory', 'lots', join(dir, 'x')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--memory must be an integer >= 1, got "lots"/);
  });
});
