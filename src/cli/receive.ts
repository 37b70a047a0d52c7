/**
 * `xenmig receive`: the receiving end of a migration, like `xl migrate-receive`. Listens
 * on loopback by default for one connection, or speaks on stdin/stdout (`ssh host
 * xenmig receive --stdio`), and restores the domain into a memory image directory that
 * appears only once the sender has given permission to start it.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import type { Command } from 'commander';
import { UsageError } from '../format/errors.js';
import { MemoryImage } from '../domain/image/memory-image.js';
import { readPolicyFile } from '../policy/load.js';
import { newestXenVersion, parseXenVersion } from '../policy/xen-versions.js';
import type { NamedPolicy } from '../policy/xen-cpuid.js';
import { receiveMigration } from '../migrate/receiver.js';
import { socketChannel, stdioChannel, type Channel } from '../migrate/transport.js';

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
  minVersion: string;
  checkpointed?: boolean;
  force?: boolean;
  json?: boolean;
  quiet?: boolean;
}

async function acceptOne(host: string, port: number, onListening: (addr: AddressInfo) => void): Promise<Socket> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new UsageError(`cannot listen on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  onListening(server.address() as AddressInfo);
  return new Promise<Socket>((resolve) => {
    server.once('connection', (sock) => {
      server.close();
      resolve(sock);
    });
  });
}

export function register(program: Command): void {
  program
    .command('receive')
    .description('receive a migrating domain into a memory image (the other end of `xenmig migrate` or of an xl-style ssh pipe)')
    .requiredOption('--into <DIR>', 'memory image directory to create (appears only when the domain has arrived and may start)')
    .option('--listen <HOST:PORT>', 'accept one TCP connection here (default 127.0.0.1, port 0 picks a free one)')
    .option('--stdio', 'speak the handshake on standard input/output (for ssh)')
    .option('--host-policy <FILE>', 'this host\'s CPU policy (`xen-cpuid -p` output or xenmig policy JSON): refuse guests it cannot run')
    .option('--policy <NAME>', 'which policy of --host-policy to use (default: HVM Max or PV Max for the guest)')
    .option('--xen <VERSION>', `this host's Xen version: refuse policies it could not load (default ${newestXenVersion()})`)
    .option('--min-version <n>', 'refuse libxc streams older than this version', '2')
    .option('--checkpointed', 'the sender runs a checkpointed (Remus-style) stream')
    .option('--force', 'replace DIR if it exists')
    .option('--json', 'print the result as JSON (on stderr with --stdio)')
    .option('--quiet', 'no progress lines')
    .action(async (o: ReceiveCliOptions) => {
      if (o.listen !== undefined && o.stdio) throw new UsageError('--listen and --stdio exclude each other');
      const minVersion = Number(o.minVersion);
      if (!Number.isInteger(minVersion) || minVersion < 2 || minVersion > 3) throw new UsageError(`--min-version must be 2 or 3, got "${o.minVersion}"`);
      let hostPolicies: NamedPolicy[] | undefined;
      if (o.hostPolicy !== undefined) hostPolicies = readPolicyFile(o.hostPolicy);
      const say = (l: string): void => {
        if (!o.quiet) process.stderr.write(`xenmig receive: ${l}\n`);
      };
      let channel: Channel;
      if (o.stdio) channel = stdioChannel();
      else {
        const { host, port } = parseHostPort(o.listen ?? '127.0.0.1:0', '--listen');
        const sock = await acceptOne(host, port, (a) => process.stderr.write(`xenmig receive: listening on ${a.address}:${a.port}\n`));
        say(`connection from ${sock.remoteAddress}:${sock.remotePort}`);
        channel = socketChannel(sock);
      }
      try {
        const result = await receiveMigration(channel, {
          createSink: () => MemoryImage.create(o.into, { force: Boolean(o.force) }),
          hostPolicies,
          hostPolicyName: o.policy,
          ...(o.xen !== undefined ? { xen: parseXenVersion(o.xen) } : {}),
          minVersion,
          checkpointed: Boolean(o.checkpointed),
          log: say,
        });
        const out = o.stdio ? process.stderr : process.stdout;
        if (o.json) {
          out.write(
            JSON.stringify({
              outcome: result.outcome,
              into: result.outcome === 'received' || result.outcome === 'failover' ? o.into : undefined,
              preflight: result.preflight,
              pagesWritten: result.restore?.pagesWritten,
              bytes: result.restore?.bytes,
            }) + '\n',
          );
        } else if (result.outcome === 'received' || result.outcome === 'failover') say(`domain is in ${o.into}`);
        if (result.outcome === 'refused-at-preflight') {
          // Said even with --quiet: the operator on this side must learn why as well.
          if (o.quiet) process.stderr.write(`xenmig receive: refused the domain at preflight:\n${result.preflight!.reasons.map((r) => `  - ${r}`).join('\n')}\n`);
          process.exitCode = 1;
        }
        await channel.close();
      } catch (err) {
        channel.destroy();
        throw err;
      }
    });
}
