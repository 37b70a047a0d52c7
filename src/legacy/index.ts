/**
 * The legacy layer's way in: `readAnyStream` reads whatever the input is, handing a
 * legacy image (bare, or behind an xl header without the stream-v2 flag) to the legacy
 * reader and anything else to the v2/v3 framing reader, so every command takes both.
 */
import type { ByteReader } from '../io/byte-reader.js';
import { detectLayer } from '../stream/detect.js';
import type { StreamItem } from '../stream/items.js';
import { readStream, type ReadOptions } from '../stream/reader.js';
import { readLegacyStream, xlHeaderIsLegacy, type LegacyOptions } from './reader.js';

export { LegacyReader, readLegacyStream, xlHeaderIsLegacy, type LegacyOptions, type LegacyLayout, type LegacyItem } from './reader.js';
export { convertLegacy, type LegacyConvertOptions, type LegacyConvertResult } from './convert.js';
export { detectLegacyKind, type LegacyGuest, type LegacyWidth, type LegacyKind } from './detect.js';
export { LegacyFormatError } from './errors.js';

export interface AnyReadOptions extends ReadOptions {
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
