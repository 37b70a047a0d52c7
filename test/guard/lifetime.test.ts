/**
 * The guard bounds its command's life: a command that outlives the sender's stream is
 * ended after the grace period (SIGTERM, then SIGKILL), and a signal to the guard reaches
 * the command's whole process group (grandchildren included).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { XENMIG } from './harness.js';
import { withTmp } from '../support/tmp.js';

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  ms: number;
}

function guard(args: string[], opts: { keepStdin?: boolean; limitMs?: number } = {}) {
  const t0 = Date.now();
  const child = spawn(process.execPath, [XENMIG, 'guard', ...args], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  if (!opts.keepStdin) child.stdin!.end();
  const limit = setTimeout(() => child.kill('SIGKILL'), opts.limitMs ?? 15_000);
  const done = new Promise<Exit>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal, stderr, ms: Date.now() - t0 });
    }),
  );
  return { child, done };
}

/** Gone, or a zombie nobody reaped yet: either way, not running. */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a command that ignores the end of the stream gets SIGTERM after --exit-grace', async () => {
  const { done } = guard(['--exit-grace', '0.3', '--kill-grace', '5', '--', 'sleep 30']);
  const r = await done;
  assert.equal(r.code, 143, r.stderr);
  assert.ok(r.ms < 5000, `took ${r.ms} ms`);
  assert.match(r.stderr, /the command has not exited 0\.3 s after the sender's stream ended: sending SIGTERM to its process group/);
  assert.match(r.stderr, /exit 143: the command was killed by SIGTERM/);
});

test('a command that ignores SIGTERM as well gets SIGKILL after --kill-grace', async () => {
  const { done } = guard(['--exit-grace', '0.2', '--kill-grace', '0.3', '--', 'trap "" TERM; sleep 30']);
  const r = await done;
  assert.equal(r.code, 137, r.stderr);
  assert.ok(r.ms < 5000, `took ${r.ms} ms`);
  assert.match(r.stderr, /has not exited 0\.3 s after SIGTERM: sending SIGKILL to its process group/);
});

test("SIGTERM to the guard reaches its command's whole process group, grandchildren included", async () => {
  await withTmp(async (dir) => {
    const pids = join(dir, 'pids');
    const { child, done } = guard(['--', `sleep 30 & echo $! > "${pids}"; echo $$ >> "${pids}"; wait`], { keepStdin: true });
    await until(() => existsSync(pids) && readFileSync(pids, 'utf8').trim().split('\n').length === 2, 5000, 'the command started');
    const [grandchild, shell] = readFileSync(pids, 'utf8').trim().split('\n').map(Number) as [number, number];
    assert.ok(running(grandchild) && running(shell));
    child.kill('SIGTERM');
    const r = await done;
    assert.match(r.stderr, /got SIGTERM: passing it to the command's process group/);
    assert.equal(r.code, 143, r.stderr);
    await until(() => !running(grandchild) && !running(shell), 5000, 'the group ended');
  });
});
