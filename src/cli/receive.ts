/**
 * `xenmig receive`: the receiving end of a migration, like `xl migrate-receive`. Listens
 * on loopback by default for one connection, or speaks on stdin/stdout (`ssh host
 * xenmig receive --stdio`), and restores the domain into a memory image directory that
 * appears only once the sender has given permission to start it.
 */
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../format/errors.js';
import { MemoryImage } from '../domain/image/memory-image.js';
import { readPolicyFile } from '../policy/load.js';
import { newestXenVersion, parseXenVersion } from '../policy/xen-versions.js';
import type { NamedPolicy } from '../policy/xen-cpuid.js';
import { receiveMigration, type ReceiveResult } from '../migrate/receiver.js';
import { stdioChannel, type Channel } from '../migrate/transport.js';
import { exposureWarning, serveMigrations, type Stage } from '../migrate/listener.js';
import { readSecretFile } from '../migrate/auth.js';
import { exitCodeFor } from './exit-codes.js';
import { jsonOption, minVersionOption, quietOption } from './options.js';

/** "HOST:PORT", "PORT" or ":PORT"; the host defaults to loopback. */
export function parseHostPort(v: string, what: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d+)$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${what} must be HOST:PORT, got "${v}"`);
  const host = (m[1] ?? '').replace(/^\[|\]$/g, '') || '127.0.0.1';
  return { host, port };
}

interface ReceiveCliOptions {
  listen?: string;
  stdio?: boolean;
  into: string;
  hostPolicy?: string;
  policy?: string;
  xen?: string;
  minVersion: 2 | 3;
  checkpointed?: boolean;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
  keepListening?: boolean;
  idleTimeout: string;
  handshakeTimeout: string;
  secretFile?: string;
}

function seconds(v: string, flag: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a number of seconds > 0, got "${v}"`);
  return Math.round(n * 1000);
}

/** Checked before the preflight answer: the image directory must be free (or --force) and its parent writable. */
export async function checkInto(into: string, force: boolean): Promise<string[]> {
  const reasons: string[] = [];
  const target = resolve(into);
  const there = await stat(target).then(() => true, () => false);
  if (there && !force) reasons.push(`${into} already exists on the receiver (start it with --force to replace it)`);
  const parent = dirname(target);
  try {
    await access(parent, fsConstants.W_OK | fsConstants.X_OK);
  } catch (err) {
    reasons.push(`cannot create ${into} on the receiver: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? `${parent} does not exist` : `${parent} is not writable`}`);
  }
  return reasons;
}

export function register(program: Command): void {
  program
    .command('receive')
    .description('receive a migrating domain into a memory image (the other end of `xenmig migrate` or of an xl-style ssh pipe)')
    .requiredOption('--into <DIR>', 'memory image directory to create (appears only when the domain has arrived and may start)')
    .option('--listen <HOST:PORT>', 'accept TCP connections here (default 127.0.0.1, port 0 picks a free one) until one migration was attempted')
    .option('--stdio', 'speak the handshake on standard input/output (for ssh)')
    .option('--host-policy <FILE>', 'this host\'s CPU policy (`xen-cpuid -p` output or xenmig policy JSON): refuse guests it cannot run')
    .option('--policy <NAME>', 'which policy of --host-policy to use (default: HVM Max or PV Max for the guest)')
    .option('--xen <VERSION>', `this host's Xen version: refuse policies it could not load (default ${newestXenVersion()})`)
    .addOption(minVersionOption('refuse libxc streams older than this version', 2))
    .option('--checkpointed', 'the sender runs a checkpointed (Remus-style) stream')
    .option('--force', 'replace DIR if it exists')
    .option('--keep-listening', 'with --listen: after each connection, failed or not, wait for the next (until killed)')
    .option('--idle-timeout <SECONDS>', 'with --listen: drop a connection when no octet moved for this long', '60')
    .option('--handshake-timeout <SECONDS>', 'with --listen: drop a connection that has not begun the stream this long after connecting', '30')
    .option('--secret-file <FILE>', 'senders must prove they hold the secret in FILE (give `migrate` the same file); it never travels')
    .addOption(jsonOption('print the result as JSON (on stderr with --stdio)'))
    .addOption(quietOption('no progress lines'))
    .action(async (o: ReceiveCliOptions) => {
      if (o.listen !== undefined && o.stdio) throw new UsageError('--listen and --stdio exclude each other');
      if (o.stdio && o.keepListening) throw new UsageError('--keep-listening needs --listen');
      const minVersion = o.minVersion;
      const idleTimeoutMs = seconds(o.idleTimeout, '--idle-timeout');
      const handshakeTimeoutMs = seconds(o.handshakeTimeout, '--handshake-timeout');
      let hostPolicies: NamedPolicy[] | undefined;
      if (o.hostPolicy !== undefined) hostPolicies = readPolicyFile(o.hostPolicy);
      const say = (l: string): void => {
        if (!o.quiet) process.stderr.write(`xenmig receive: ${l}\n`);
      };
      let secret: Uint8Array | undefined;
      if (o.secretFile !== undefined) {
        const s = readSecretFile(o.secretFile);
        if (s.warning) process.stderr.write(`xenmig receive: ${s.warning}\n`);
        secret = s.secret;
      }
      const receiveOn = (channel: Channel, onStage?: (s: Stage) => void) =>
        receiveMigration(channel, {
          createSink: () => MemoryImage.create(o.into, { force: Boolean(o.force) }),
          checkTarget: () => checkInto(o.into, Boolean(o.force)),
          hostPolicies,
          hostPolicyName: o.policy,
          ...(o.xen !== undefined ? { xen: parseXenVersion(o.xen) } : {}),
          minVersion,
          checkpointed: Boolean(o.checkpointed),
          ...(secret ? { secret } : {}),
          ...(onStage ? { onStage } : {}),
          log: say,
        });
      const out = o.stdio ? process.stderr : process.stdout;
      const report = (result: ReceiveResult): void => {
        if (o.json) {
          out.write(
            JSON.stringify({
              outcome: result.outcome,
              into: result.outcome === 'received' || result.outcome === 'failover' ? o.into : undefined,
              preflight: result.preflight,
              pagesWritten: result.restore?.pagesWritten,
              bytes: result.restore?.bytes,
              rounds: result.rounds,
              downtimeMs: result.downtimeMs,
            }) + '\n',
          );
        } else if (result.outcome === 'received' || result.outcome === 'failover') say(`domain is in ${o.into}`);
        if (result.outcome === 'refused-at-preflight') {
          // Said even with --quiet: the operator on this side must learn why as well.
          if (o.quiet) process.stderr.write(`xenmig receive: refused the domain at preflight:\n${result.preflight!.reasons.map((r) => `  - ${r}`).join('\n')}\n`);
          if (!o.keepListening) process.exitCode = 1;
        }
      };

      if (o.stdio) {
        const channel = stdioChannel();
        try {
          report(await receiveOn(channel));
          await channel.close();
        } catch (err) {
          channel.destroy();
          throw err;
        }
        return;
      }
      const { host, port } = parseHostPort(o.listen ?? '127.0.0.1:0', '--listen');
      const outcome = await serveMigrations({
        host,
        port,
        keepListening: Boolean(o.keepListening),
        idleTimeoutMs,
        handshakeTimeoutMs,
        onListening: (a) => {
          process.stderr.write(`xenmig receive: listening on ${a.address}:${a.port}\n`);
          const warning = exposureWarning(a.address, a.port, secret !== undefined);
          // Said even with --quiet: the operator must know the door is open.
          if (warning) process.stderr.write(`xenmig receive: ${warning}\n`);
        },
        log: say,
        handle: (channel, onStage) => receiveOn(channel, onStage),
        onOutcome: (peer, { result, error, attempt }) => {
          if (!o.keepListening) return;
          if (result) report(result);
          else {
            const { message } = exitCodeFor(error);
            const text = (message ?? String(error)).replace(/^xenmig: /, '').replace(/\n/g, ' ');
            process.stderr.write(`xenmig receive: ${attempt ? 'migration' : 'connection'} from ${peer} failed: ${text}; waiting for the next connection\n`);
          }
        },
      });
      if (outcome.error !== undefined) throw outcome.error;
      if (outcome.result) report(outcome.result);
    });
}
