/**
 * `xenmig receive --listen` against hostile and broken clients: silence, a slow loris,
 * garbage, an occupied --into, a wrong secret. Every client here is bounded in time and
 * talks to 127.0.0.1 only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { exposureWarning, isLoopbackAddress } from '../../src/migrate/listener.js';
import { withTmp } from '../support/tmp.js';

const BIN = fileURLToPath(new URL('../../../bin/xenmig', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`xenmig ${args.join(' ')} did not finish in ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

interface Receiver {
  port: number;
  child: ChildProcess;
  stderr: () => string;
  /** Resolves with the first stderr line matching `re` (fails after `ms`). */
  waitFor: (re: RegExp, ms?: number) => Promise<string>;
  done: Promise<Run>;
}

async function receiver(args: string[]): Promise<Receiver> {
  const child = spawn(process.execPath, [BIN, 'receive', '--listen', '127.0.0.1:0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout!.on('data', (d) => (stdout += d));
  createInterface({ input: child.stderr! }).on('line', (l) => {
    lines.push(l);
    for (const w of waiters.splice(0)) {
      if (w.re.test(l)) w.resolve(l);
      else waiters.push(w);
    }
  });
  const done = new Promise<Run>((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr: lines.join('\n') })));
  const waitFor = (re: RegExp, ms = 10_000): Promise<string> => {
    const seen = lines.find((l) => re.test(l));
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no stderr line like ${re} within ${ms} ms:\n${lines.join('\n')}`)), ms);
      waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  };
  const line = await waitFor(/listening on [^\s]+:\d+$/);
  const port = Number(/:(\d+)$/.exec(line)![1]);
  return { port, child, stderr: () => lines.join('\n'), waitFor, done };
}

function kill(r: Receiver): Promise<Run> {
  if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGTERM');
  return r.done;
}

/** A client; resolves when the server closes it (or fails after `ms`). */
function client(port: number): Promise<{ sock: Socket; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    sock.on('error', () => undefined);
    const t0 = Date.now();
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - t0)));
    sock.resume();
    sock.once('connect', () => resolve({ sock, closed }));
    sock.once('error', reject);
  });
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
  ]);
}

const exists = (p: string): Promise<boolean> => stat(p).then(() => true, () => false);
const MIGRATE = ['--memory', '2', '--dirty-rate', '500', '--quiet'];

test('a silent client and a slow loris slower than --idle-timeout are cut by it; the receiver stays for the next', async () => {
  await withTmp(async (dir) => {
    const r = await receiver(['--into', join(dir, 'img'), '--idle-timeout', '0.3', '--handshake-timeout', '10']);
    try {
      const silent = await client(r.port);
      const ms = await within(silent.closed, 5000, 'silent client cut');
      assert.ok(ms >= 250, `cut after ${ms} ms`);
      await r.waitFor(/no octet from 127\.0\.0\.1:\d+ for 0\.3 s \(--idle-timeout\): connection dropped/);
      await r.waitFor(/not a migration .*waiting for the next connection/);

      const loris = await client(r.port);
      let sent = 0;
      const drip = setInterval(() => {
        if (sent++ < 20) loris.sock.write('x');
      }, 500);
      try {
        await within(loris.closed, 5000, 'slow loris cut');
      } finally {
        clearInterval(drip);
      }
      assert.ok(sent <= 3, `the loris got ${sent} octets in`);
      assert.equal(r.child.exitCode, null, 'the receiver still runs');
      // And a real migration still gets through, ending the receiver as before.
      const m = await run(['migrate', '--to', `127.0.0.1:${r.port}`, ...MIGRATE]);
      assert.equal(m.code, 0, m.stderr);
      const rr = await within(r.done, 10_000, 'receiver exit');
      assert.equal(rr.code, 0, rr.stderr);
    } finally {
      await kill(r);
    }
  });
});

test('a slow loris faster than --idle-timeout hits --handshake-timeout', async () => {
  await withTmp(async (dir) => {
    const r = await receiver(['--into', join(dir, 'img'), '--idle-timeout', '5', '--handshake-timeout', '0.6']);
    try {
      const loris = await client(r.port);
      let sent = 0;
      const drip = setInterval(() => {
        if (sent++ < 100) loris.sock.write('X');
      }, 50);
      try {
        const ms = await within(loris.closed, 5000, 'loris cut');
        assert.ok(ms >= 500 && ms < 3000, `cut after ${ms} ms`);
      } finally {
        clearInterval(drip);
      }
      await r.waitFor(/did not begin a migration within 0\.6 s \(--handshake-timeout\): connection dropped/);
      assert.equal(r.child.exitCode, null);
    } finally {
      await kill(r);
    }
  });
});

test('garbage, then a real migration: with --keep-listening both are logged and it goes on; without, garbage does not end it', async () => {
  await withTmp(async (dir) => {
    const keep = await receiver(['--into', join(dir, 'a'), '--keep-listening', '--force']);
    try {
      for (let i = 0; i < 2; i++) {
        const g = await client(keep.port);
        g.sock.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
        await within(g.closed, 5000, 'garbage client closed');
        const m = await run(['migrate', '--to', `127.0.0.1:${keep.port}`, ...MIGRATE]);
        assert.equal(m.code, 0, m.stderr);
        await within(
          (async () => {
            while ((keep.stderr().match(/domain is in /g) ?? []).length < i + 1) await new Promise((r) => setTimeout(r, 20));
          })(),
          10_000,
          'domain received',
        );
      }
      assert.match(keep.stderr(), /connection from 127\.0\.0\.1:\d+ failed: migration stream contained unexpected data instead of the xl header; waiting for the next connection/);
      assert.equal(keep.child.exitCode, null, 'still listening');
      assert.ok(await exists(join(dir, 'a', 'memory.raw')));
    } finally {
      await kill(keep);
    }

    const once = await receiver(['--into', join(dir, 'b')]);
    const g = await client(once.port);
    g.sock.end('\0\0\0\0garbage garbage garbage');
    await within(g.closed, 5000, 'garbage client closed');
    await once.waitFor(/not a migration \(migration stream contained unexpected data/);
    const m = await run(['migrate', '--to', `127.0.0.1:${once.port}`, ...MIGRATE]);
    assert.equal(m.code, 0, m.stderr);
    const rr = await within(once.done, 10_000, 'receiver exit');
    assert.equal(rr.code, 0, rr.stderr);
    assert.ok(await exists(join(dir, 'b', 'memory.raw')));
  });
});

test('an existing --into is refused before the preflight answer: the sender prints the reason and exits 1', async () => {
  await withTmp(async (dir) => {
    const into = join(dir, 'taken');
    mkdirSync(into);
    writeFileSync(join(into, 'keep-me'), 'x');
    const r = await receiver(['--into', into]);
    const m = await run(['migrate', '--to', `127.0.0.1:${r.port}`, ...MIGRATE.slice(0, -1)]);
    const rr = await within(r.done, 10_000, 'receiver exit');
    assert.equal(m.code, 1, m.stderr);
    assert.match(m.stderr, /^xenmig: the receiver refused the domain at preflight; nothing was sent and the domain keeps running here$/m);
    assert.match(m.stderr, /^ {2}- .*taken already exists on the receiver \(start it with --force to replace it\)$/m);
    assert.equal(rr.code, 1);
    assert.match(rr.stderr, /preflight: refused the domain: .*already exists/);
    assert.ok(await exists(join(into, 'keep-me')));
  });
});

test('--secret-file: a wrong secret is refused, the right one accepted, and the secret never crosses the wire', async () => {
  await withTmp(async (dir) => {
    const SECRET = 'correct-horse-battery-staple-4711';
    const good = join(dir, 'good');
    const bad = join(dir, 'bad');
    writeFileSync(good, SECRET + '\n');
    writeFileSync(bad, 'not-the-secret\n');
    chmodSync(good, 0o600);
    chmodSync(bad, 0o600);
    const r = await receiver(['--into', join(dir, 'img'), '--secret-file', good]);
    // A recording relay between sender and receiver: everything either way.
    const wire: Buffer[] = [];
    const relay = createServer((a) => {
      const b = connect({ host: '127.0.0.1', port: r.port });
      for (const s of [a, b]) s.on('error', () => undefined);
      a.on('data', (d: Buffer) => (wire.push(d), b.write(d)));
      b.on('data', (d: Buffer) => (wire.push(d), a.write(d)));
      a.on('end', () => b.end());
      b.on('end', () => a.end());
      a.on('close', () => b.destroy());
      b.on('close', () => a.destroy());
    });
    await new Promise<void>((res) => relay.listen(0, '127.0.0.1', res));
    const port = (relay.address() as AddressInfo).port;
    try {
      const wrong = await run(['migrate', '--to', `127.0.0.1:${port}`, '--secret-file', bad, ...MIGRATE]);
      assert.equal(wrong.code, 1, wrong.stderr);
      assert.match(wrong.stderr, /receiver does not hold this shared secret|refused the authentication/);
      const none = await run(['migrate', '--to', `127.0.0.1:${port}`, ...MIGRATE.slice(0, -1)]);
      assert.equal(none.code, 1, none.stderr);
      assert.match(none.stderr, /requires a shared secret/);
      assert.equal(r.child.exitCode, null, 'refused senders do not end the receiver');
      const right = await run(['migrate', '--to', `127.0.0.1:${port}`, '--secret-file', good, ...MIGRATE]);
      assert.equal(right.code, 0, right.stderr);
      const rr = await within(r.done, 10_000, 'receiver exit');
      assert.equal(rr.code, 0, rr.stderr);
      assert.match(rr.stderr, /refused the sender: it did not authenticate|refused the sender: wrong shared secret/);
      assert.ok(await exists(join(dir, 'img', 'memory.raw')));
      const all = Buffer.concat(wire);
      assert.ok(all.length > 1_000_000, 'the relay saw the migration');
      assert.equal(all.indexOf(SECRET), -1, 'the secret is not on the wire');
      assert.equal(all.indexOf('not-the-secret'), -1, 'nor the wrong one');
    } finally {
      relay.close();
      await kill(r);
    }
  });
});

test('non-loopback listen addresses are warned about; loopback ones are not', async () => {
  for (const h of ['127.0.0.1', '127.3.2.1', '::1', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopbackAddress(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.org', '128.0.0.1']) assert.ok(!isLoopbackAddress(h), h);
  assert.equal(exposureWarning('127.0.0.1', 7000, false), undefined);
  assert.match(exposureWarning('0.0.0.0', 7000, false)!, /^warning: listening on 0\.0\.0\.0:7000, not a loopback address: anyone who can reach it can send a domain here/);
  assert.match(exposureWarning('::', 7000, true)!, /senders must prove the shared secret, but the stream itself travels unencrypted/);
  // The CLI prints no warning on loopback.
  await withTmp(async (dir) => {
    const r = await receiver(['--into', join(dir, 'img'), '--quiet']);
    const rr = await kill(r);
    assert.doesNotMatch(rr.stderr, /warning/);
  });
});
