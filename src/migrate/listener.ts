/**
 * A receiver on the network: listens, takes one connection at a time (a few more wait
 * their turn, further ones are closed), and bounds each one in time: a handshake
 * deadline (from the connection to the first octets of the xl stream) and an idle
 * timeout (no octet either way). A connection that never becomes a migration attempt
 * (a wrong opening, no or a wrong secret, silence) is logged and the next one is
 * awaited; the first real attempt (a well-formed preflight request or an xl header) ends
 * the listening unless `keepListening`, which logs every outcome and goes on.
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { IoError, UsageError } from '../format/errors.js';
import type { ReceiveResult } from './receiver.js';
import { socketChannel, type Channel } from './transport.js';

export type Stage = 'authenticated' | 'preflight' | 'stream';

export interface ListenOptions {
  host: string;
  port: number;
  keepListening?: boolean;
  /** Default 60 s. */
  idleTimeoutMs?: number;
  /** Default 30 s. */
  handshakeTimeoutMs?: number;
  /** Connections that may wait while one is served (default 4); more are closed. */
  maxWaiting?: number;
  onListening?: (addr: AddressInfo) => void;
  log: (line: string) => void;
  /** Serve one connection; call onStage as the sender gets further. */
  handle: (channel: Channel, onStage: (stage: Stage) => void) => Promise<ReceiveResult>;
  /** With keepListening: each finished connection (result or error). */
  onOutcome?: (peer: string, outcome: { result?: ReceiveResult; error?: unknown; attempt: boolean }) => void;
  /** Stop listening when this aborts (tests; the CLI runs until killed). */
  signal?: AbortSignal;
}

export interface ListenOutcome {
  result?: ReceiveResult;
  error?: unknown;
}

export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;

/** True for addresses only this machine can reach. */
export function isLoopbackAddress(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = /^(?:::ffff:)?(\d+)\.\d+\.\d+\.\d+$/.exec(h);
  return v4 !== null && v4[1] === '127';
}

/** The warning for a listen address others can reach; undefined for loopback. */
export function exposureWarning(host: string, port: number, secured: boolean): string | undefined {
  if (isLoopbackAddress(host)) return undefined;
  return secured
    ? `warning: listening on ${host}:${port}, not a loopback address: senders must prove the shared secret, but the stream itself travels unencrypted`
    : `warning: listening on ${host}:${port}, not a loopback address: anyone who can reach it can send a domain here (use --secret-file on both ends, or listen on 127.0.0.1 behind ssh)`;
}

function secs(ms: number): string {
  return `${+(ms / 1000).toFixed(3)} s`;
}

export async function serveMigrations(opts: ListenOptions): Promise<ListenOutcome> {
  const idleMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const deadlineMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  const maxWaiting = opts.maxWaiting ?? 4;
  const server = createServer();
  const waiting: Socket[] = [];
  let wake: (() => void) | undefined;
  let busy = false;
  let stopped = false;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new UsageError(`cannot listen on ${opts.host}:${opts.port}: ${err.message}`)));
    server.listen(opts.port, opts.host, () => resolve());
  });
  opts.onListening?.(server.address() as AddressInfo);
  server.on('connection', (sock) => {
    sock.on('error', () => undefined);
    if (waiting.length >= maxWaiting || stopped) {
      opts.log(`connection from ${sock.remoteAddress}:${sock.remotePort} closed: ${waiting.length} already wait${busy ? ' behind a migration' : ''}`);
      sock.destroy();
      return;
    }
    waiting.push(sock);
    wake?.();
  });
  const stop = (): void => {
    stopped = true;
    server.close();
    for (const s of waiting.splice(0)) s.destroy();
    wake?.();
  };
  opts.signal?.addEventListener('abort', stop, { once: true });
  try {
    for (;;) {
      while (waiting.length === 0 && !stopped) await new Promise<void>((resolve) => (wake = resolve));
      if (stopped) return {};
      const sock = waiting.shift()!;
      busy = true;
      const peer = `${sock.remoteAddress}:${sock.remotePort}`;
      opts.log(`connection from ${peer}`);
      let stage: Stage | undefined;
      let timedOut: string | undefined;
      const channel = socketChannel(sock, {
        receiving: true,
        idleTimeoutMs: idleMs,
        onIdle: () => (timedOut ??= `no octet from ${peer} for ${secs(idleMs)} (--idle-timeout): connection dropped`),
      });
      const deadline = setTimeout(() => {
        timedOut ??= `${peer} did not begin a migration within ${secs(deadlineMs)} (--handshake-timeout): connection dropped`;
        channel.destroy();
      }, deadlineMs);
      const outcome: ListenOutcome = {};
      try {
        outcome.result = await opts.handle(channel, (s) => {
          stage = s;
          if (s === 'stream') clearTimeout(deadline);
        });
        clearTimeout(deadline);
        await channel.close();
      } catch (err) {
        clearTimeout(deadline);
        channel.destroy();
        outcome.error = timedOut !== undefined ? new IoError(timedOut, { cause: err }) : err;
      }
      busy = false;
      const attempt = stage === 'preflight' || stage === 'stream';
      opts.onOutcome?.(peer, { ...outcome, attempt });
      if (opts.keepListening) continue;
      if (attempt) return outcome;
      opts.log(`${peer}: not a migration (${(outcome.error as Error | undefined)?.message ?? 'no request'}); waiting for the next connection`);
    }
  } finally {
    opts.signal?.removeEventListener('abort', stop);
    stop();
  }
}
