/** The usual way in: a path or "-" to a reader of stream items. */
import { ByteReader } from '../io/byte-reader.js';
import { openRawSource } from '../io/raw-source.js';
import { readAnyStream, type AnyReadOptions } from './any.js';
import type { StreamItem } from './items.js';

export interface OpenedStream {
  reader: ByteReader;
  items: AsyncGenerator<StreamItem>;
  close(): Promise<void>;
}

export interface OpenOptions extends AnyReadOptions {
  /** Synchronous reads: for a command whose only job is this input (see FileRawSource). */
  blocking?: boolean;
}

export async function openStream(pathOrDash: string, opts: OpenOptions = {}): Promise<OpenedStream> {
  const reader = new ByteReader(await openRawSource(pathOrDash, { blocking: opts.blocking ?? false }));
  return { reader, items: readAnyStream(reader, opts), close: () => reader.close() };
}
