/**
 * Stand-ins for the two xl ends of a migration, run as programs by the guard tests:
 *
 *   node fakes.js receiver <stats.json> [xl args...]   what `xl migrate-receive` does on
 *     its stdio: banner, read the stream (acting on each item only once it is whole),
 *     "ready", wait for the permission, report and status byte 0.
 *   node fakes.js sender <stats.json> <stream file> <rune>   what `xl migrate` does: run
 *     `sh -c <rune>`, wait for the banner, send the stream, wait for "ready", give
 *     permission, read the report. A failed write or a missing message means it resumes
 *     the guest.
 *
 * Each writes what it saw to its stats file (and the receiver the octets it read to
 * <stats>.bin) so the tests can assert on them.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { ByteReader } from '../../src/io/byte-reader.js';
import { ReadableRawSource, type RawSource } from '../../src/io/raw-source.js';
import { WritableSink } from '../../src/io/sink.js';
import { readStream } from '../../src/stream/reader.js';
import { itemLabel } from '../../src/stream/items.js';
import {
  XL_MIGRATE_PERMISSION,
  XL_MIGRATE_RECEIVER_BANNER,
  XL_MIGRATE_RECEIVER_READY,
  XL_MIGRATE_REPORT,
} from '../../src/format/constants.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export interface ReceiverStats {
  args: string[];
  /** Items the receiver acted on (each whole), e.g. "libxc:PAGE_DATA". */
  items: string[];
  /** Octets it read from its stdin. */
  bytes: number;
  outcome: 'running' | 'failed' | 'no-permission';
  error?: string;
}

export interface SenderStats {
  outcome: 'migrated' | 'resumed' | 'no-banner';
  /** Where it gave up, when it did. */
  phase?: string;
  status?: number;
  transportExit?: number | null;
}

/** Keeps every octet read, for the byte-for-byte comparison. */
class KeepingSource implements RawSource {
  readonly canSeek = false;
  readonly parts: Uint8Array[] = [];
  total = 0;
  constructor(private readonly inner: RawSource) {}
  get name(): string {
    return this.inner.name;
  }
  async read(into: Uint8Array, position: number): Promise<number> {
    const n = await this.inner.read(into, position);
    this.parts.push(into.slice(0, n));
    this.total += n;
    return n;
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function receiver(statsPath: string, args: string[]): Promise<number> {
  const stats: ReceiverStats = { args, items: [], bytes: 0, outcome: 'failed' };
  const src = new KeepingSource(new ReadableRawSource('stdin', process.stdin));
  const reader = new ByteReader(src);
  const out = new WritableSink('stdout', process.stdout);
  let code = 1;
  try {
    await out.write(enc.encode(XL_MIGRATE_RECEIVER_BANNER));
    // As xl migrate-receive: -r (Remus) and --colo say the libxl stream interleaves checkpoints.
    const checkpointed = args.includes('--colo') ? 'colo' : args.includes('-r') ? 'remus' : undefined;
    for await (const item of readStream(reader, { expectEndOfInput: false, ...(checkpointed ? { checkpointed } : {}) })) {
      stats.items.push(item.kind === 'record' ? `${item.layer}:${itemLabel(item)}` : item.kind);
    }
    stats.bytes = reader.position;
    await out.write(enc.encode(XL_MIGRATE_RECEIVER_READY));
    const go = await reader.read(enc.encode(XL_MIGRATE_PERMISSION).length, 'permission').catch(() => undefined);
    if (go === undefined || dec.decode(go) !== XL_MIGRATE_PERMISSION) {
      stats.outcome = 'no-permission';
    } else {
      await out.write(enc.encode(XL_MIGRATE_REPORT));
      await out.write(new Uint8Array([0]));
      stats.outcome = 'running';
      code = 0;
    }
  } catch (err) {
    stats.error = (err as Error).message;
    stats.bytes = src.total;
  }
  const all = new Uint8Array(src.total);
  let at = 0;
  for (const p of src.parts) {
    all.set(p, at);
    at += p.length;
  }
  writeFileSync(statsPath + '.bin', all.subarray(0, stats.outcome === 'running' ? stats.bytes : all.length));
  writeFileSync(statsPath, JSON.stringify(stats));
  return code;
}

async function sender(statsPath: string, streamPath: string, rune: string): Promise<number> {
  const stream = readFileSync(streamPath);
  const child = spawn('sh', ['-c', rune], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  const reader = new ByteReader(new ReadableRawSource('transport', child.stdout));
  const sink = new WritableSink('transport', child.stdin);
  const expect = async (text: string): Promise<boolean> => {
    const got = await reader.read(enc.encode(text).length, text).catch(() => undefined);
    return got !== undefined && dec.decode(got) === text;
  };
  let stats: SenderStats;
  if (!(await expect(XL_MIGRATE_RECEIVER_BANNER))) {
    stats = { outcome: 'no-banner' };
  } else {
    let phase: string | undefined;
    try {
      for (let i = 0; i < stream.length; i += 65536) await sink.write(stream.subarray(i, i + 65536));
    } catch {
      phase = 'sending the stream';
    }
    if (phase === undefined && !(await expect(XL_MIGRATE_RECEIVER_READY))) phase = 'waiting for ready';
    if (phase === undefined) {
      await sink.write(enc.encode(XL_MIGRATE_PERMISSION)).catch(() => (phase = 'giving permission'));
    }
    if (phase === undefined && !(await expect(XL_MIGRATE_REPORT))) phase = 'waiting for the report';
    const status = phase === undefined ? (await reader.read(1, 'status').catch(() => undefined))?.[0] : undefined;
    if (phase === undefined && status === undefined) phase = 'waiting for the status';
    stats = phase === undefined && status === 0 ? { outcome: 'migrated', status } : { outcome: 'resumed', ...(phase ? { phase } : {}), ...(status !== undefined ? { status } : {}) };
  }
  child.stdin.destroy();
  stats.transportExit = await exited;
  writeFileSync(statsPath, JSON.stringify(stats));
  return stats.outcome === 'migrated' ? 0 : 1;
}

const [role, statsPath, ...rest] = process.argv.slice(2);
if (role === 'receiver') {
  receiver(statsPath!, rest).then((c) => (process.exitCode = c));
} else if (role === 'sender') {
  sender(statsPath!, rest[0]!, rest[1]!).then((c) => (process.exitCode = c));
}
