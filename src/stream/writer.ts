/**
 * Builds streams: headers and records of every layer, with the zero padding the format
 * wants, to any ByteSink. PAGE_DATA is written from its parts so page contents are
 * passed through without being copied into a record buffer.
 */
import { ByteWriter, paddingFor } from '../format/bytes.js';
import { MAX_RECORD_BODY, RECORD_HEADER_SIZE } from '../format/constants.js';
import {
  RECORD_HEADER_LAYOUT,
  encodeDomainHeader,
  encodeImageHeader,
  encodeLibxlHeader,
  encodeXlHeader,
  type DomainHeader,
  type ImageHeader,
  type LibxlHeader,
  type XlHeader,
} from '../format/headers.js';
import { encodePfnEntry, encodeRecordBody, type LibxcRecord, type PfnEntry } from '../format/records.js';
import { encodeLibxlRecordBody, type LibxlRecord } from '../format/libxl/table.js';
import type { ByteSink } from '../io/sink.js';

const ZEROS = new Uint8Array(8);

export class StreamWriter {
  private readonly header = new Uint8Array(RECORD_HEADER_SIZE);
  private pfnScratch = new Uint8Array(8 + 8 * 1024);

  constructor(
    readonly sink: ByteSink,
    /** Byte order of records; headers carry their own. Set by libxcHeader/libxlHeader. */
    public littleEndian = true,
  ) {}

  get position(): number {
    return this.sink.written;
  }

  async raw(bytes: Uint8Array): Promise<void> {
    await this.sink.write(bytes);
  }

  async xlHeader(h: XlHeader): Promise<void> {
    await this.sink.write(encodeXlHeader(h));
  }

  async libxlHeader(h: LibxlHeader): Promise<void> {
    this.littleEndian = (h.options & 1) === 0;
    await this.sink.write(encodeLibxlHeader(h));
  }

  async libxcHeader(image: ImageHeader, domain: DomainHeader): Promise<void> {
    this.littleEndian = (image.options & 1) === 0;
    await this.sink.write(encodeImageHeader(image));
    await this.sink.write(encodeDomainHeader(domain, this.littleEndian));
  }

  /** One record whose body is given in parts (written back to back, then padded). */
  async recordParts(type: number, parts: readonly Uint8Array[]): Promise<void> {
    let length = 0;
    for (const p of parts) length += p.length;
    if (length > MAX_RECORD_BODY) throw new RangeError(`record body of ${length} octets exceeds the 128 MiB limit`);
    RECORD_HEADER_LAYOUT.write(this.header, { type: type >>> 0, length }, this.littleEndian);
    await this.sink.write(this.header);
    for (const p of parts) if (p.length > 0) await this.sink.write(p);
    const pad = paddingFor(length);
    if (pad > 0) await this.sink.write(ZEROS.subarray(0, pad));
  }

  async record(type: number, body: Uint8Array = ZEROS.subarray(0, 0)): Promise<void> {
    await this.recordParts(type, [body]);
  }

  async libxcRecord(rec: LibxcRecord): Promise<void> {
    await this.record(rec.type, encodeRecordBody(rec, this.littleEndian));
  }

  async libxlRecord(rec: LibxlRecord): Promise<void> {
    await this.record(rec.type, encodeLibxlRecordBody(rec, this.littleEndian));
  }

  /**
   * PAGE_DATA from pfn entries and the pages that carry data, concatenated, or as
   * several views (runs of pages straight out of a domain's memory). Reuses one
   * scratch buffer for the count and pfn array.
   */
  async pageData(entries: readonly PfnEntry[], pages: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const need = 8 + 8 * entries.length;
    if (this.pfnScratch.length < need) this.pfnScratch = new Uint8Array(need);
    const view = new DataView(this.pfnScratch.buffer, 0, need);
    const le = this.littleEndian;
    view.setUint32(0, entries.length, le);
    view.setUint32(4, 0, le);
    for (let i = 0; i < entries.length; i++) {
      const { hi, lo } = encodePfnEntry(entries[i]!);
      view.setUint32(8 + 8 * i, le ? lo : hi, le);
      view.setUint32(12 + 8 * i, le ? hi : lo, le);
    }
    const head = this.pfnScratch.subarray(0, need);
    await this.recordParts(1, pages instanceof Uint8Array ? [head, pages] : [head, ...pages]);
  }
}

/** Encodes a record to bytes (header, body, padding) without a sink: for tests and builders. */
export function frameRecord(type: number, body: Uint8Array, littleEndian = true): Uint8Array {
  const pad = paddingFor(body.length);
  return new ByteWriter(littleEndian, RECORD_HEADER_SIZE + body.length + pad)
    .u32(type)
    .u32(body.length)
    .bytes(body)
    .zeros(pad)
    .finish()
    .slice();
}
