/**
 * Whatever the input is: a legacy image (bare, or behind an xl header without the
 * stream-v2 flag) goes to the legacy framing reader (src/stream/legacy), anything else to the
 * v2/v3 one, so every command takes both and its consumer never knows the difference.
 */
import type { ByteReader } from '../io/byte-reader.js';
import { readLegacyStream, xlHeaderIsLegacy, type LegacyOptions } from './legacy/reader.js';
import { detectLayer } from './detect.js';
import type { StreamItem } from './items.js';
import { readStream, type ReadOptions } from './reader.js';

export interface AnyReadOptions extends ReadOptions {
  /** What to take as given about a legacy image (detected otherwise). */
  legacy?: LegacyOptions;
}

/** True when the input at the reader's position is (or claims to be) a legacy image. */
export async function isLegacyInput(reader: ByteReader, opts: AnyReadOptions = {}): Promise<boolean> {
  const format = opts.format ?? 'auto';
  if (format === 'libxc' || format === 'libxl') return false;
  const d = detectLayer(await reader.peek(8));
  if (d === 'legacy') return format === 'auto';
  if (d === 'xl') return xlHeaderIsLegacy(reader);
  return false;
}

export async function* readAnyStream(reader: ByteReader, opts: AnyReadOptions = {}): AsyncGenerator<StreamItem> {
  if (await isLegacyInput(reader, opts)) {
    yield* readLegacyStream(reader, { legacy: opts.legacy, pageContents: opts.pageContents, expectEndOfInput: opts.expectEndOfInput });
  } else {
    yield* readStream(reader, opts);
  }
}
