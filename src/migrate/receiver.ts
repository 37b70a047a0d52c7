/**
 * The receiving end of a migration (what `xl migrate-receive` does), over a Channel:
 * banner, optional preflight, the stream restored into a fresh DomainSink, then the
 * ready / go / report exchange. The sink is committed only after the sender's "go", so
 * a sender that goes away, a stream that breaks, or a refusal at STATIC_DATA_END leave
 * nothing behind (the sink is aborted), and the sender keeps its domain.
 */
import { PAGE_SIZE } from '../format/constants.js';
import { RefusedError } from '../format/errors.js';
import type { DomainSink } from '../domain/types.js';
import { restoreStream } from '../restore/index.js';
import type { RestoreResult } from '../restore/types.js';
import { checkpointedKind, readStream, type CheckpointedKind } from '../stream/reader.js';
import type { Channel } from './transport.js';
import {
  AUTH_MAGIC,
  BANNER,
  PERMISSION,
  PREFLIGHT_REQUEST,
  READY,
  REPORT,
  encodeVerdict,
  expectMessage,
  peekOpening,
  readPreflightBody,
  sendMessage,
} from './handshake.js';
import { judgeStaticData, staticDataOf, type StaticCheckOptions } from './preflight.js';
import { authenticateSender } from './auth.js';
import { RoundLog, type ReceivedRound } from './round-log.js';

export interface ReceiveOptions extends StaticCheckOptions {
  /** A new, empty domain to restore into (a memory image in a temporary place until commit). */
  createSink(): Promise<DomainSink>;
  /** The sender runs a checkpointed stream: true or 'remus' for Remus, 'colo' for COLO. */
  checkpointed?: boolean | CheckpointedKind;
  /** One line per event, for the operator (stderr in the CLI). */
  log?: (line: string) => void;
  /**
   * The shared secret (`--secret-file`): a sender must prove it holds it before anything
   * else (src/migrate/auth.ts). Without it a sender that asks is told this receiver has none.
   */
  secret?: Uint8Array;
  /**
   * Checks of this receiver's own (the target directory free and writable...), run before
   * the preflight answer, or before anything is created for a sender without a preflight;
   * each returned line is a reason to refuse.
   */
  checkTarget?: () => Promise<string[]>;
  /**
   * How far the sender got: 'authenticated' (it proved the secret), 'preflight' (a
   * well-formed preflight request), 'stream' (the xl header begins). The last two make a
   * connection a real migration attempt rather than noise.
   */
  onStage?: (stage: 'authenticated' | 'preflight' | 'stream') => void;
}

/** A connection that never became a migration attempt: bad opening, no or wrong secret. */
export class NotAMigrationError extends RefusedError {
  constructor(message: string, reasons: string[] = []) {
    super(message, reasons);
    this.name = 'NotAMigrationError';
  }
}

export type ReceiveOutcome = 'received' | 'preflight-only' | 'refused-at-preflight' | 'failover';

export interface ReceiveResult {
  outcome: ReceiveOutcome;
  preflight?: { accepted: boolean; reasons: string[] };
  restore?: RestoreResult;
  /** The memory rounds as they arrived (RoundLog). */
  rounds?: ReceivedRound[];
  /** From the final round's first record to "ready" sent: the part of the downtime this end sees. */
  downtimeMs?: number;
}

/** Passes everything through but holds `commit` until the migration's "go". */
class HeldSink {
  commitAsked = false;
  constructor(readonly inner: DomainSink) {}
  wrap(): DomainSink {
    return new Proxy(this.inner, {
      get: (target, prop, receiver) => {
        if (prop === 'commit') return () => this.holdCommit();
        if (prop === 'writePages') return (pfns: readonly number[], data: Uint8Array) => writePagesSpread(target, pfns, data);
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }

  /**
   * The stream is complete: its pages must be written before the sender hears "ready"
   * (a sink may still be writing them); a failure there leaves nothing behind.
   */
  private async holdCommit(): Promise<void> {
    try {
      await this.inner.flush?.();
    } catch (err) {
      await this.inner.abort((err as Error).message).catch(() => undefined);
      throw err;
    }
    this.commitAsked = true;
  }
}

/** Pages per write at most (256 KiB, what PageFile writes per call): a 4 MiB run goes out as 16 writes at once. */
const SPREAD_PAGES = 64;

/**
 * A record's pages as all their writes in flight at once instead of one after another:
 * each write is a thread-pool round trip, so a round of scattered dirty pages (a write
 * per page) took 20-80 ms per record in turn, and the engine reads the next record only
 * once the pages are written: the last rounds then stretch the downtime.
 */
async function writePagesSpread(sink: DomainSink, pfns: readonly number[], data: Uint8Array): Promise<void> {
  // A pfn twice in one record: the later copy must win, so its writes stay in order.
  if (pfns.length <= 1 || new Set(pfns).size !== pfns.length) return sink.writePages(pfns, data);
  const parts: Promise<void>[] = [];
  let i = 0;
  while (i < pfns.length) {
    let j = i + 1;
    while (j < pfns.length && j - i < SPREAD_PAGES && pfns[j] === pfns[j - 1]! + 1) j++;
    parts.push(sink.writePages(pfns.slice(i, j), data.subarray(i * PAGE_SIZE, j * PAGE_SIZE)));
    i = j;
  }
  // Every write settles before a failure is passed on: nothing may still write into an aborted sink.
  const failed = (await Promise.allSettled(parts)).find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

export async function receiveMigration(channel: Channel, opts: ReceiveOptions): Promise<ReceiveResult> {
  const log = opts.log ?? (() => undefined);
  const { reader, sink: out } = channel;
  await sendMessage(out, BANNER);
  const result: ReceiveResult = { outcome: 'received' };

  let opening = await peekOpening(reader);
  if (opening === 'auth') {
    await expectMessage(reader, AUTH_MAGIC, 'authentication request');
    const refused = await authenticateSender(reader, out, opts.secret);
    if (refused !== undefined) throw new NotAMigrationError(`refused the sender: ${refused}`);
    log('the sender proved it holds the shared secret');
    opts.onStage?.('authenticated');
    opening = await peekOpening(reader);
  } else if (opts.secret !== undefined) {
    const why = 'this receiver requires a shared secret (--secret-file on both ends)';
    if (opening === 'preflight') {
      // Read the question whole before answering: closing on unread octets would reset the connection before the sender reads why.
      await expectMessage(reader, PREFLIGHT_REQUEST, 'preflight request');
      await readPreflightBody(reader);
      await sendMessage(out, ...encodeVerdict(false, [why]));
    }
    throw new NotAMigrationError(`refused the sender: it did not authenticate; ${why}`);
  }
  if (opening === 'preflight') {
    await expectMessage(reader, PREFLIGHT_REQUEST, 'preflight request');
    const body = await readPreflightBody(reader);
    opts.onStage?.('preflight');
    let reasons: string[] = [];
    try {
      if (opts.checkTarget) reasons.push(...(await opts.checkTarget()));
      reasons.push(...judgeStaticData(await staticDataOf(body), opts));
    } catch (err) {
      reasons.push(`the preflight static data cannot be read: ${(err as Error).message}`);
    }
    const accepted = reasons.length === 0;
    result.preflight = { accepted, reasons };
    await sendMessage(out, ...encodeVerdict(accepted, reasons));
    if (!accepted) {
      log(`preflight: refused the domain: ${reasons.join('; ')}`);
      result.outcome = 'refused-at-preflight';
      return result;
    }
    log('preflight: static data accepted');
    opening = await peekOpening(reader);
    if (opening === 'end') {
      result.outcome = 'preflight-only';
      return result;
    }
  }
  if (opening !== 'xl') {
    const Err = result.preflight ? RefusedError : NotAMigrationError;
    throw new Err(
      opening === 'end' ? 'the sender closed the connection before sending a domain' : 'migration stream contained unexpected data instead of the xl header',
    );
  }
  opts.onStage?.('stream');
  if (opts.checkTarget && !result.preflight) {
    // A plain xl sender has no way to hear why: the reasons stay on this side, and it sees the connection close before anything was created.
    const reasons = await opts.checkTarget();
    if (reasons.length > 0) {
      log(`refused the domain: ${reasons.join('; ')}`);
      throw new RefusedError('refused the domain before creating anything', reasons);
    }
  }

  const held = new HeldSink(await opts.createSink());
  // A checkpointed sender is said out of band (xl migrate-receive -r); libxl then interleaves its records after each CHECKPOINT.
  const checkpointed = checkpointedKind(opts.checkpointed);
  const roundLog = new RoundLog();
  const items = roundLog.watch(readStream(reader, { format: 'xl', expectEndOfInput: false, pageContents: 'stream', ...(checkpointed ? { checkpointed } : {}) }));
  const restored = await restoreStream(items, held.wrap(), {
    minVersion: opts.minVersion,
    checkpointed: opts.checkpointed,
    staticDataDone: (_missing, data) => {
      const reasons = judgeStaticData(data, opts);
      if (reasons.length > 0) {
        log(`refused the domain at STATIC_DATA_END: ${reasons.join('; ')}`);
        return { refuse: reasons.join('; ') };
      }
      return undefined;
    },
  });
  result.restore = restored;
  result.rounds = roundLog.finish();
  if (restored.failover) {
    // Remus: the primary is gone; its last complete checkpoint is the domain now.
    await held.inner.commit();
    log(`failover to checkpoint ${restored.checkpoints}: ${restored.failover.reason}`);
    result.outcome = 'failover';
    return result;
  }
  log(`transfer complete (${restored.pagesWritten} pages), requesting permission to start the domain`);
  try {
    await sendMessage(out, READY);
    if (roundLog.lastRoundAt !== undefined) result.downtimeMs = performance.now() - roundLog.lastRoundAt;
    await expectMessage(reader, PERMISSION, 'permission to start the domain');
  } catch (err) {
    await held.inner.abort(`the sender did not give permission: ${(err as Error).message}`);
    throw err;
  }
  log('got permission, starting the domain');
  let status = 0;
  let failure: Error | undefined;
  try {
    await held.inner.commit();
  } catch (err) {
    failure = err as Error;
    status = 1;
  }
  await sendMessage(out, REPORT, Uint8Array.of(status));
  if (failure) {
    log(`could not start the domain (${failure.message}); destroying our copy, the sender may resume`);
    await held.inner.abort(failure.message).catch(() => undefined);
    await sendMessage(out, PERMISSION);
    throw failure;
  }
  log('domain started');
  return result;
}
