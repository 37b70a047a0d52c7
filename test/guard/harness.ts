/**
 * Runs a migration the way xl does it: the fake sender builds xl's `sh -c` line
 * (`exec <ssh command> <host> xl [-t] migrate-receive [-e] [-d] [-p]`), with `ssh` and
 * `xl` on PATH replaced by stand-ins: `ssh` drops the host and runs the rest here,
 * `xl` is the fake receiver.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import type { ReceiverStats, SenderStats } from './fakes.js';
import { tmpDirFor } from '../support/tmp.js';

const FAKES = fileURLToPath(new URL('./fakes.js', import.meta.url));
export const XENMIG = fileURLToPath(new URL('../../../bin/xenmig', import.meta.url));

export interface Scene {
  dir: string;
  env: NodeJS.ProcessEnv;
  receiverStats: string;
}

/** A temp dir, removed when `t` ends, with bin/ssh, bin/xl and bin/xenmig stand-ins at the front of PATH. */
export function scene(t: TestContext): Scene {
  const dir = tmpDirFor(t, 'xenmig-guard-');
  const receiverStats = join(dir, 'receiver.json');
  const bin = join(dir, 'bin');
  const scripts: Record<string, string> = {
    // Records its arguments, then connects "to the host": runs the remote command here.
    ssh: `#!/bin/sh\necho "$@" > "${dir}/ssh-args"\nshift\nexec "$@"\n`,
    xl: `#!/bin/sh\nexec node "${FAKES}" receiver "${receiverStats}" "$@"\n`,
    xenmig: `#!/bin/sh\nexec node "${XENMIG}" "$@"\n`,
  };
  mkdirSync(bin, { recursive: true });
  for (const [name, text] of Object.entries(scripts)) {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  }
  return { dir, env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }, receiverStats };
}

/** The line xl builds for `xl migrate [-e] [-p] [--debug] -s SSH vm HOST`. */
export function xlRune(ssh: string, host: string, flags: { tty?: boolean; e?: boolean; d?: boolean; p?: boolean } = {}): string {
  return `exec ${ssh} ${host} xl${flags.tty ? ' -t' : ''} migrate-receive${flags.e ? ' -e' : ''}${flags.d ? ' -d' : ''}${flags.p ? ' -p' : ''}`;
}

export interface Migration {
  sender: SenderStats;
  receiver: ReceiverStats | undefined;
  /** What the receiver read, when it wrote it. */
  received: Uint8Array | undefined;
  /** The guard's exit status as the transport (sender's child) reported it. */
  guardExit: number | null | undefined;
  stderr: string;
}

export async function migrate(s: Scene, stream: Uint8Array, rune: string): Promise<Migration> {
  const streamPath = join(s.dir, 'stream.in');
  writeFileSync(streamPath, stream);
  const senderStats = join(s.dir, 'sender.json');
  const child = spawn('node', [FAKES, 'sender', senderStats, streamPath, rune], { env: s.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
  await new Promise((resolve) => child.on('close', resolve));
  const sender = JSON.parse(readFileSync(senderStats, 'utf8')) as SenderStats;
  const receiver = existsSync(s.receiverStats) ? (JSON.parse(readFileSync(s.receiverStats, 'utf8')) as ReceiverStats) : undefined;
  const received = existsSync(s.receiverStats + '.bin') ? new Uint8Array(readFileSync(s.receiverStats + '.bin')) : undefined;
  return { sender, receiver, received, guardExit: sender.transportExit, stderr };
}
