/**
 * A report of a stream while it is being written (`xenmig migrate --report`): a sink
 * that passes every octet on to the real one and parses a copy as it goes, the way the
 * guard reads a migration in flight (a PushRawSource under the framing reader). The
 * writer waits until the parser has taken each piece, so nothing is held but the
 * reader's own buffer, and page contents are dropped unread.
 */
import { StreamFormatError } from '../format/errors.js';
import { ByteReader } from '../io/byte-reader.js';
import { PushRawSource } from '../io/raw-source.js';
import type { ByteSink } from '../io/sink.js';
import type { StreamLayer } from '../stream/detect.js';
import { readStream } from '../stream/reader.js';
import { ReportBuilder, type ReportModel, type ReportModelOptions } from './model.js';

export class ReportTap {
  private readonly source = new PushRawSource('migration stream');
  private readonly builder: ReportBuilder;
  private readonly parsing: Promise<void>;
  private stopped = false;
  private failure: unknown;

  constructor(opts: ReportModelOptions & { format?: StreamLayer } = {}) {
    const builder = new ReportBuilder(opts);
    this.builder = builder;
    const reader = new ByteReader(this.source, 64 * 1024);
    this.parsing = (async () => {
      try {
        for await (const item of readStream(reader, { format: opts.format ?? 'xl', pageContents: 'skip', headsOnly: true })) builder.push(item);
      } catch (err) {
        if (err instanceof StreamFormatError) builder.fail(err);
        else this.failure = err;
      } finally {
        // Whatever comes after is not parsed: never let a writer wait on it.
        this.stopped = true;
        await this.source.close();
      }
    })();
  }

  /** `inner` with the tap on it: writes go to `inner` first, then to the parser. */
  wrap<S extends ByteSink>(inner: S): ByteSink {
    const tap = this;
    return {
      get name() {
        return inner.name;
      },
      get written() {
        return inner.written;
      },
      async write(bytes: Uint8Array): Promise<void> {
        await inner.write(bytes);
        await tap.feed(bytes);
      },
      commit: () => inner.commit(),
      abort: () => inner.abort(),
    };
  }

  /** Resolves once the parser has taken the octets (they may be a view the writer reuses). */
  async feed(bytes: Uint8Array): Promise<void> {
    if (this.stopped || bytes.length === 0) return;
    // The parser may stop (a broken stream) while this piece waits: then it is never taken.
    await Promise.race([this.source.push(bytes), this.parsing]);
  }

  /** The stream is over (or broke off): the model of what was written. */
  async finish(): Promise<ReportModel> {
    this.source.end();
    await this.parsing;
    if (this.failure !== undefined) throw this.failure;
    return this.builder.finish();
  }
}
