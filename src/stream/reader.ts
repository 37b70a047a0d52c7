/**
 * The framing reader: turns bytes into headers and records for every layer (xl header,
 * libxl stream, the libxc stream inside LIBXC_CONTEXT, or any layer alone). It checks
 * only what it must to find the next record (magic numbers, lengths, truncation); the
 * rules of the format belong to the verifier.
 */
import {
  DHDR_SIZE,
  IHDR_ID,
  IHDR_MARKER,
  IHDR_SIZE,
  LIBXL_HEADER_SIZE,
  LIBXL_IDENT,
  LIBXL_REC_TYPE,
  MAX_RECORD_BODY,
  MAX_XENSTORE_DATA,
  MAX_XL_OPTIONAL_DATA,
  RECORD_HEADER_SIZE,
  REC_TYPE,
  XL_HEADER_FIXED_SIZE,
  XL_MANDATORY_FLAG_STREAMV2,
  isKnownRecordType,
  recordTypeName,
} from '../format/constants.js';
import { isKnownLibxlRecordType, libxlRecordTypeName } from '../format/libxl/table.js';
import { LimitExceededError, StreamFormatError, TruncatedStreamError, type StreamLocation } from '../format/errors.js';
import { paddingFor } from '../format/bytes.js';
import { PAGE_DATA_HEADER_LAYOUT } from '../format/libxc/page-data.js';
import {
  RECORD_HEADER_LAYOUT,
  decodeDomainHeader,
  decodeImageHeader,
  decodeLibxlHeader,
  decodeXlHeader,
  hasXlMagic,
  imageHeaderIsBigEndian,
  libxlHeaderIsBigEndian,
  xlHeaderFixed,
} from '../format/headers.js';
import type { ByteReader, LentTaker } from '../io/byte-reader.js';
import { describeDetected, detectLayer, type StreamLayer } from './detect.js';
import type { LibxcHeaderItem, RecordItem, StreamItem } from './items.js';

export interface ReadOptions {
  /** Which layer the input starts with; 'auto' looks at the first octets. */
  format?: StreamLayer | 'auto';
  /**
   * 'skip': PAGE_DATA page contents are not returned (jumped over on files, read and
   * discarded on pipes). 'read': every body is returned whole. 'stream': as 'skip',
   * but the page contents and padding can be copied out piece by piece (`rest`), so
   * a converter moves them without holding a whole body.
   */
  pageContents?: 'read' | 'skip' | 'stream';
  /**
   * After the outermost END: true reports any trailing octets; false stops reading
   * there (a live stream goes on with the migration handshake).
   */
  expectEndOfInput?: boolean;
  /**
   * The libxl stream is checkpointed (the receiver is told out of band, as `xl
   * migrate-receive -r` or `--colo` is): after each libxc CHECKPOINT, libxl records follow
   * up to CHECKPOINT_END (and, for COLO, one more: CHECKPOINT_STATE), then the libxc
   * stream goes on. Bare libxc streams read the same either way.
   */
  checkpointed?: CheckpointedKind;
  /**
   * true: bodies no check reads past their first 8 octets (unknown record types, libxl's
   * EMULATOR_CONTEXT) are returned cut to those 8 (`bodyComplete` false) and the rest is
   * passed over, so a 128 MiB one costs nothing. For the verifier; padding is still read.
   */
  headsOnly?: boolean;
}

/** Remus sends CHECKPOINT_END after each checkpoint's libxl records; COLO then CHECKPOINT_STATE too. */
export type CheckpointedKind = 'remus' | 'colo';

/** A `checkpointed` option as commands take it: true means Remus. */
export function checkpointedKind(v: boolean | CheckpointedKind | undefined): CheckpointedKind | undefined {
  if (v === true) return 'remus';
  return v === false ? undefined : v;
}

/** Adds the record's place to errors from below (truncation, bad layouts). */
function locate(err: unknown, loc: StreamLocation): never {
  if (err instanceof StreamFormatError && err.location.recordType === undefined && err.location.layer === undefined) {
    const Ctor = err.constructor as new (d: string, l: StreamLocation) => StreamFormatError;
    throw new Ctor(err.detail, { ...loc, offset: loc.offset ?? err.location.offset });
  }
  throw err;
}

type PageMode = 'read' | 'skip' | 'stream';

export async function* readStream(reader: ByteReader, opts: ReadOptions = {}): AsyncGenerator<StreamItem> {
  const pages: PageMode = opts.pageContents ?? 'read';
  let layer = opts.format ?? 'auto';
  if (layer === 'auto') {
    const first = await reader.peek(8);
    const d = detectLayer(first);
    if (d === 'empty') throw new StreamFormatError('empty input, expected an xl, libxl or libxc stream', { offset: 0 });
    if (d === 'legacy') {
      throw new StreamFormatError(
        'this is a legacy (pre-v2, Xen <= 4.5) image or not a Xen stream: its first 8 octets are neither the xl magic, "LibxlFmt" nor the libxc all-ones marker',
        { offset: 0 },
      );
    }
    layer = d;
  }

  if (layer === 'xl') {
    const offset = reader.position;
    let fixed: Uint8Array;
    try {
      fixed = (await reader.peek(XL_HEADER_FIXED_SIZE)).slice();
      if (fixed.length < XL_HEADER_FIXED_SIZE) {
        throw new StreamFormatError(`stream truncated: xl header needs 48 octets, only ${fixed.length} present`);
      }
      if (!hasXlMagic(fixed)) throw new StreamFormatError(`xl header: magic is not "${describeDetected('xl')}" magic`);
      const { optionalDataLength } = xlHeaderFixed(fixed);
      if (optionalDataLength > MAX_RECORD_BODY) {
        throw new StreamFormatError(`xl header: optional_data_len ${optionalDataLength} exceeds the 128 MiB limit`);
      }
      if (optionalDataLength > MAX_XL_OPTIONAL_DATA) {
        throw new LimitExceededError(
          `optional_data_len ${optionalDataLength} exceeds the ${MAX_XL_OPTIONAL_DATA} octet (4 MiB) limit on the xl config (refused before reading it)`,
        );
      }
      const raw = (await reader.read(XL_HEADER_FIXED_SIZE + optionalDataLength, 'xl header')).slice();
      const header = decodeXlHeader(raw);
      yield { kind: 'xl-header', offset, end: reader.position, header, raw };
      if ((header.mandatoryFlags & XL_MANDATORY_FLAG_STREAMV2) === 0) {
        throw new StreamFormatError(
          'the xl header does not set the stream-v2 flag: what follows is a legacy (pre-v2, Xen <= 4.5) stream, which this reader does not frame',
          { offset: reader.position, layer: 'xl' },
        );
      }
    } catch (err) {
      locate(err, { offset, layer: 'xl', recordType: 'xl header' });
    }
    layer = 'libxl';
  }

  if (layer === 'libxl') {
    yield* readLibxl(reader, pages, opts.checkpointed, opts.headsOnly ?? false);
  } else {
    yield* readLibxc(reader, pages, undefined, opts.headsOnly ?? false);
  }

  if (opts.expectEndOfInput ?? true) {
    const offset = reader.position;
    const rest = await reader.peek(1);
    if (rest.length > 0) {
      const size = reader.source.size;
      yield { kind: 'trailing', offset, length: size !== undefined && reader.source.canSeek ? size - offset : 1 };
    }
  }
}

async function* readLibxl(reader: ByteReader, pages: PageMode, checkpointed: CheckpointedKind | undefined, heads: boolean): AsyncGenerator<StreamItem> {
  const offset = reader.position;
  let littleEndian = true;
  try {
    const bytes = await reader.read(LIBXL_HEADER_SIZE, 'libxl header');
    const header = decodeLibxlHeader(bytes);
    if (header.ident !== LIBXL_IDENT) {
      throw new StreamFormatError(`libxl header: ident 0x${header.ident.toString(16)}, expected 0x4c6962786c466d74 ("LibxlFmt")`);
    }
    littleEndian = !libxlHeaderIsBigEndian(header);
    yield { kind: 'libxl-header', offset, end: reader.position, header, littleEndian };
  } catch (err) {
    locate(err, { offset, layer: 'libxl', recordType: 'libxl header' });
  }
  // One index for all libxl records, those interleaved into the libxc stream included.
  let index = 0;
  // libxl_stream_read.c buffers every record up to CHECKPOINT_END, whatever its type; a
  // COLO secondary then reads one more (libxl__stream_read_checkpoint_state).
  const checkpointRecords = async function* (): AsyncGenerator<StreamItem> {
    for (;;) {
      const rec = await readRecord(reader, 'libxl', index++, littleEndian, 'read', heads);
      yield rec;
      if (rec.type === LIBXL_REC_TYPE.CHECKPOINT_END) break;
    }
    if (checkpointed === 'colo') yield await readRecord(reader, 'libxl', index++, littleEndian, 'read', heads);
  };
  for (;;) {
    const rec = await readRecord(reader, 'libxl', index++, littleEndian, 'read', heads);
    yield rec;
    if (rec.type === LIBXL_REC_TYPE.LIBXC_CONTEXT) yield* readLibxc(reader, pages, checkpointed ? checkpointRecords : undefined, heads);
    if (rec.type === LIBXL_REC_TYPE.END) return;
  }
}

async function* readLibxc(
  reader: ByteReader,
  pages: PageMode,
  afterCheckpoint?: () => AsyncGenerator<StreamItem>,
  heads = false,
): AsyncGenerator<StreamItem> {
  const offset = reader.position;
  let header: LibxcHeaderItem;
  try {
    const ih = decodeImageHeader(await reader.read(IHDR_SIZE, 'libxc image header'));
    if (ih.marker !== IHDR_MARKER) {
      throw new StreamFormatError(
        'libxc image header: marker is not 0xffffffffffffffff; a zero bit here is what a legacy (pre-v2, Xen <= 4.5) image looks like',
      );
    }
    if (ih.id !== IHDR_ID) {
      throw new StreamFormatError(`libxc image header: id 0x${ih.id.toString(16).padStart(8, '0')}, expected 0x58454e46 ("XENF")`);
    }
    const littleEndian = !imageHeaderIsBigEndian(ih);
    const dh = decodeDomainHeader(await reader.read(DHDR_SIZE, 'libxc domain header'), littleEndian);
    header = { kind: 'libxc-header', offset, end: reader.position, image: ih, domain: dh, littleEndian };
  } catch (err) {
    locate(err, { offset, layer: 'libxc', recordType: 'image header' });
  }
  yield header;
  for (let index = 0; ; index++) {
    const rec = await readRecord(reader, 'libxc', index, header.littleEndian, pages, heads);
    yield rec;
    if (rec.rest) await passOver(reader, rec);
    if (rec.type === REC_TYPE.END) return;
    if (rec.type === REC_TYPE.CHECKPOINT && afterCheckpoint) yield* afterCheckpoint();
  }
}

const EMPTY = new Uint8Array(0);

/** What `headsOnly` keeps of a body no check reads further: an emulator record's header. */
const HEAD = 8;

function headOnly(layer: 'libxl' | 'libxc', type: number): boolean {
  if (layer === 'libxc') return !isKnownRecordType(type);
  return type === LIBXL_REC_TYPE.EMULATOR_CONTEXT || !isKnownLibxlRecordType(type);
}

async function readRecord(
  reader: ByteReader,
  layer: 'libxl' | 'libxc',
  index: number,
  littleEndian: boolean,
  pages: PageMode,
  heads = false,
): Promise<RecordItem> {
  const offset = reader.position;
  const loc: StreamLocation = { offset, layer, recordIndex: index };
  let type = 0;
  let typeName = 'record header';
  try {
    const hdr = await reader.read(RECORD_HEADER_SIZE, 'record header');
    type = RECORD_HEADER_LAYOUT.get(hdr, 'type', littleEndian);
    const length = RECORD_HEADER_LAYOUT.get(hdr, 'length', littleEndian);
    typeName = layer === 'libxc' ? recordTypeName(type) : libxlRecordTypeName(type);
    loc.recordType = typeName;
    if (length > MAX_RECORD_BODY) {
      throw new StreamFormatError(`body length ${length} exceeds the 128 MiB limit (refused before reading it)`);
    }
    if (layer === 'libxl' && type === LIBXL_REC_TYPE.EMULATOR_XENSTORE_DATA && length > 8 + MAX_XENSTORE_DATA) {
      throw new LimitExceededError(
        `body length ${length} exceeds the ${8 + MAX_XENSTORE_DATA} octet limit on emulator xenstore data (8 + 1 MiB; refused before reading it)`,
      );
    }
    const pad = paddingFor(length);
    let body: Uint8Array;
    let padding: Uint8Array;
    let bodyComplete = true;
    let rest: RecordItem['rest'];
    if (pages !== 'read' && layer === 'libxc' && type === REC_TYPE.PAGE_DATA && length >= 8) {
      const first = (await reader.peek(4)).slice();
      // Fewer than 4 octets left: let read() report the truncation.
      if (first.length < 4) await reader.read(length + pad, `${typeName} body and padding`);
      const count = PAGE_DATA_HEADER_LAYOUT.get(first, 'count', littleEndian);
      const head = Math.min(length, 8 + 8 * count);
      // Skipping reuses the read buffer, so the pfn array must be a copy.
      body = (await reader.read(head, 'PAGE_DATA pfn array')).slice();
      if (pages === 'stream') {
        bodyComplete = head === length;
        padding = EMPTY;
        const left = length - head + pad;
        if (left > 0) rest = streamedRest(reader, left, length + pad, { ...loc });
      } else {
        if (head < length) {
          await reader.skip(length - head, 'PAGE_DATA page contents');
          bodyComplete = false;
        }
        padding = pad === 0 ? EMPTY : (await reader.read(pad, `${typeName} padding`)).slice();
      }
    } else if (heads && length > HEAD && headOnly(layer, type)) {
      body = (await reader.read(HEAD, `${typeName} body`)).slice();
      await reader.skip(length - HEAD, `${typeName} body`);
      bodyComplete = false;
      padding = pad === 0 ? EMPTY : (await reader.read(pad, `${typeName} padding`)).slice();
    } else {
      // One read for body and padding: a second read could move the buffer under the body view.
      const all = await reader.read(length + pad, `${typeName} body and padding`);
      body = all.subarray(0, length);
      padding = all.subarray(length);
    }
    const item: RecordItem = {
      kind: 'record',
      layer,
      offset,
      end: offset + RECORD_HEADER_SIZE + length + pad,
      index,
      type,
      typeName,
      length,
      littleEndian,
      body,
      bodyComplete,
      padding,
    };
    if (rest) item.rest = rest;
    return item;
  } catch (err) {
    locate(err, loc);
  }
}

/** The rest of a streamed PAGE_DATA record, copied out (or lent) at most once. */
interface StreamedRest {
  length: number;
  taken: boolean;
  copyTo(write: (piece: Uint8Array) => Promise<void> | void, align?: number): Promise<void>;
  lendTo?(take: LentTaker, piece: number, align?: number): Promise<void>;
}

/** `whole`: body and padding together, so a truncation reads as it would for a whole body. */
function streamedRest(reader: ByteReader, length: number, whole: number, loc: StreamLocation): StreamedRest {
  const what = 'PAGE_DATA page contents and padding';
  const once = async (move: () => Promise<void>): Promise<void> => {
    if (rest.taken) throw new Error('PAGE_DATA contents were already copied');
    rest.taken = true;
    const from = reader.position;
    try {
      await move();
    } catch (err) {
      if (!(err instanceof TruncatedStreamError)) locate(err, loc);
      const left = whole - length + reader.position - from;
      throw new TruncatedStreamError(`stream truncated: ${loc.recordType} body and padding needs ${whole} octet(s), only ${left} left`, loc);
    }
  };
  const rest: StreamedRest = {
    length,
    taken: false,
    copyTo: (write, align = 1) => once(() => reader.copyOut(length, what, write, { align })),
  };
  if (reader.canLend) rest.lendTo = (take, piece, align) => once(() => reader.lendOut(length, what, take, { piece, align }));
  return rest;
}

/** The consumer did not copy a streamed record's rest: pass over it. */
async function passOver(reader: ByteReader, rec: RecordItem): Promise<void> {
  const rest = rec.rest as StreamedRest;
  if (rest.taken) return;
  rest.taken = true;
  try {
    await reader.skip(rest.length, 'PAGE_DATA page contents and padding');
  } catch (err) {
    locate(err, { offset: rec.offset, layer: 'libxc', recordIndex: rec.index, recordType: rec.typeName });
  }
}
