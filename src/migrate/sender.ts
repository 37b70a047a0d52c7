/**
 * The sending end of a migration (what `xl migrate` does), over a Channel: wait for the
 * banner, ask the preflight question (xenmig receivers), send the xl header and the
 * stream with the save engine (live by default), then ready / go / report. Until "go"
 * is sent every failure resumes the domain here; after it, the receiver owns the
 * domain and only its report can give it back (status != 0, then permission back).
 */
import { IoError, RefusedError } from '../format/errors.js';
import { BufferSink, type ByteSink } from '../io/sink.js';
import type { DomainSource } from '../domain/types.js';
import { saveDomain, type SaveOptions, type SaveSummary } from '../save/save.js';
import type { Channel } from './transport.js';
import { authenticateToReceiver } from './auth.js';
import {
  BANNER,
  PERMISSION,
  READY,
  REPORT,
  encodePreflightRequest,
  expectMessage,
  readVerdict,
  sendMessage,
  type Verdict,
} from './handshake.js';

export interface MigrateOptions extends Omit<SaveOptions, 'layer' | 'staticOnly' | 'onSuspend'> {
  /** Ask a xenmig receiver first (default); false speaks plain xl. */
  preflight?: boolean;
  /** Stop after the preflight answer. */
  preflightOnly?: boolean;
  /** Prove to the receiver (and have it prove) that both hold this shared secret (src/migrate/auth.ts). */
  secret?: Uint8Array;
  log?: (line: string) => void;
  /** Puts a sink in front of the channel for the stream itself (xl header to libxl END), e.g. a report's tap. */
  wrapStreamSink?: (sink: ByteSink) => ByteSink;
}

export interface MigrateResult {
  outcome: 'migrated' | 'preflight-accepted';
  preflight?: Verdict;
  save?: SaveSummary;
  /** From suspend to the receiver's "ready". */
  downtimeMs?: number;
  totalMs: number;
}

/** The save engine resumes a domain it suspended when it fails; a failure after it (no "ready") is resumed here. */
async function resumeAfter(domain: DomainSource, err: unknown, log: (l: string) => void): Promise<never> {
  if (!domain.running) {
    await domain.resume();
    log('migration failed, resumed the domain here');
  }
  throw err;
}

export async function migrateDomain(domain: DomainSource, channel: Channel, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const log = opts.log ?? (() => undefined);
  const t0 = performance.now();
  const { reader, sink } = channel;
  await expectMessage(reader, BANNER, 'receiver banner');
  const result: MigrateResult = { outcome: 'migrated', totalMs: 0 };
  if (opts.secret !== undefined) {
    await authenticateToReceiver(reader, sink, opts.secret);
    log('authenticated: the receiver and this sender hold the same shared secret');
  }

  if (opts.preflight ?? true) {
    const staticOnly = new BufferSink();
    await saveDomain(domain, staticOnly, { staticOnly: true, streamVersion: opts.streamVersion, xenVersion: opts.xenVersion });
    await sendMessage(sink, ...encodePreflightRequest(staticOnly.bytes()));
    const verdict = await readVerdict(reader);
    result.preflight = verdict;
    if (!verdict.accepted) {
      throw new RefusedError('the receiver refused the domain at preflight; nothing was sent and the domain keeps running here', verdict.reasons);
    }
    log('preflight: the receiver accepts the domain\'s static data');
    if (opts.preflightOnly) {
      result.outcome = 'preflight-accepted';
      result.totalMs = performance.now() - t0;
      return result;
    }
  }

  let suspendedAt = 0;
  try {
    result.save = await saveDomain(domain, opts.wrapStreamSink ? opts.wrapStreamSink(sink) : sink, {
      ...opts,
      live: opts.live ?? true,
      layer: 'xl',
      onSuspend: () => (suspendedAt = performance.now()),
    });
    await sink.flush();
    await expectMessage(reader, READY, 'ready message');
  } catch (err) {
    channel.destroy();
    return resumeAfter(domain, err, log);
  }
  result.downtimeMs = performance.now() - suspendedAt;
  log('the receiver has the domain; giving it permission to start');

  // Past this point xl calls it "the point of no return": the receiver may be running it.
  try {
    await sendMessage(sink, PERMISSION);
    await expectMessage(reader, REPORT, 'success/failure report');
  } catch (err) {
    throw new IoError(
      `migration failed during the final handshake (${(err as Error).message}): the domain may be running at the receiver; check both ends before resuming either`,
    );
  }
  const status = (await reader.read(1, 'success/failure status'))[0]!;
  if (status !== 0) {
    await expectMessage(reader, PERMISSION, 'permission for the sender to resume');
    await domain.resume();
    throw new RefusedError(`the receiver reports startup failure (status ${status}); the domain was resumed here`);
  }
  result.totalMs = performance.now() - t0;
  return result;
}
