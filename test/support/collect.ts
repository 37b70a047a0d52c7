/** Reads a whole stream held in memory into a list of items, each record's bytes copied (the reader reuses its buffer). */
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import type { StreamItem } from '../../src/stream/items.js';
import { readStream, type ReadOptions } from '../../src/stream/reader.js';

/** `chunk`: the reader's buffer size, small to make records straddle reads. */
export async function collect(bytes: Uint8Array, opts: ReadOptions = {}, chunk?: number): Promise<StreamItem[]> {
  const reader = new ByteReader(new BufferRawSource(bytes), chunk);
  const out: StreamItem[] = [];
  for await (const item of readStream(reader, opts)) {
    out.push(item.kind === 'record' ? { ...item, body: item.body.slice(), padding: item.padding.slice() } : item);
  }
  return out;
}
