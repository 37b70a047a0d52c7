/**
 * The restore engine's entry point: a stream (items, or a path / "-") into a DomainSink.
 * The engine owns the sink's fate: commit when the stream ended cleanly (or failed over
 * to a complete checkpoint), abort with the reason otherwise.
 */
import { RefusedError, TruncatedStreamError } from '../format/errors.js';
import type { DomainSink } from '../domain/types.js';
import type { StreamItem } from '../stream/items.js';
import { openStream } from '../stream/open.js';
import { checkpointedKind } from '../stream/reader.js';
import { InputBroke, Restorer } from './engine.js';
import type { RestoreOptions, RestoreResult } from './types.js';

export * from './types.js';
export { Restorer, RuleTruncation, RuleViolation } from './engine.js';

export async function restoreStream(
  input: AsyncIterable<StreamItem> | string,
  sink: DomainSink,
  opts: RestoreOptions = {},
): Promise<RestoreResult> {
  let opened: Awaited<ReturnType<typeof openStream>> | undefined;
  if (typeof input === 'string') {
    try {
      const checkpointed = checkpointedKind(opts.checkpointed);
      opened = await openStream(input, { blocking: opts.blockingInput ?? false, pageContents: 'stream', checkpointed, legacy: opts.legacy ?? {} });
    } catch (err) {
      await sink.abort((err as Error).message).catch(() => undefined);
      throw err;
    }
  }
  const items = opened ? opened.items : (input as AsyncIterable<StreamItem>);
  const r = new Restorer(sink, opts);
  try {
    const it = items[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<StreamItem>;
      try {
        next = await it.next();
      } catch (err) {
        throw new InputBroke(err);
      }
      if (next.done) break;
      await r.push(next.value);
    }
    await r.finish();
  } catch (caught) {
    // A socket that closes early ends the items without END: that too is a broken input.
    const broke = caught instanceof InputBroke || caught instanceof TruncatedStreamError;
    const err = caught instanceof InputBroke ? caught.inner : caught;
    if (broke && r.completeAtLibxcEnd) {
      r.warn(`the input broke after the libxc END of a checkpointed stream (${(err as Error).message}); the domain was complete there`, { layer: 'libxl' });
      await sink.commit();
      return r.result;
    }
    if (broke && r.canFailover && !(err instanceof RefusedError)) {
      try {
        await r.failover((err as Error).message);
        await sink.commit();
        return r.result;
      } catch (err2) {
        await sink.abort((err2 as Error).message).catch(() => undefined);
        throw err2;
      }
    }
    await sink.abort((err as Error)?.message ?? String(err)).catch(() => undefined);
    throw err;
  } finally {
    await opened?.close();
  }
  await sink.commit();
  return r.result;
}
