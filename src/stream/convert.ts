/**
 * Between libxc stream versions, copying everything else through byte for byte: v2 -> v3
 * inserts STATIC_DATA_END where a v3 receiver would infer it (or before the first
 * memory/register record, if that comes earlier); v3 -> v2 drops STATIC_DATA_END and the
 * CPUID/MSR policy records, which a v2 receiver does not know. Wrappers (xl header,
 * libxl records) pass through unchanged. Page data is copied, never decoded.
 */
import { REC_TYPE } from '../format/constants.js';
import { DYNAMIC_RECORDS, V3_ONLY_RECORDS } from '../format/records.js';
import { StreamFormatError } from '../format/errors.js';
import { encodeDomainHeader, encodeImageHeader, encodeLibxlHeader } from '../format/headers.js';
import { COPY_PIECE } from '../io/byte-reader.js';
import type { ByteSink } from '../io/sink.js';
import type { RecordItem, StreamItem } from './items.js';
import { StaticDataTracker } from './static-data.js';

export interface ConvertOptions {
  /** Target libxc version; the input's when left out. */
  to?: 2 | 3;
  /**
   * Write only the libxc stream: no xl header, no libxl records (what libxl hands to
   * libxc's `xc_domain_restore`, which reads a bare libxc stream).
   */
  unwrap?: boolean;
  onProgress?: (inputOffset: number) => void;
}

export interface DroppedRecord {
  typeName: string;
  offset: number;
  length: number;
  /** CPUID leaves or MSRs the record carried. */
  entries?: number;
}

export interface ConvertResult {
  from: number;
  to: number;
  /** False when the input already had the target version (copied unchanged). */
  changed: boolean;
  layers: string[];
  /** v2 -> v3: where STATIC_DATA_END went (input offset of the record it precedes). */
  inserted?: { beforeOffset: number; beforeRecord: string; inferredAt: boolean };
  dropped: DroppedRecord[];
  bytesIn: number;
  bytesOut: number;
}

/** Collects small writes so a stream of small records costs few system calls. */
class Coalescer {
  private buf = new Uint8Array(1 << 20);
  private used = 0;
  constructor(private readonly sink: ByteSink) {}

  async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    if (this.used + bytes.length > this.buf.length) await this.flush();
    // A piece this big costs one write either way: hand it over without a copy.
    if (bytes.length >= COPY_PIECE) {
      await this.flush();
      return this.sink.write(bytes);
    }
    this.buf.set(bytes, this.used);
    this.used += bytes.length;
  }

  async flush(): Promise<void> {
    if (this.used === 0) return;
    const n = this.used;
    this.used = 0;
    await this.sink.write(this.buf.subarray(0, n));
  }
}

export async function convertStream(items: AsyncIterable<StreamItem>, sink: ByteSink, opts: ConvertOptions): Promise<ConvertResult> {
  const out = new Coalescer(sink);
  const tracker = new StaticDataTracker();
  const hdr = new Uint8Array(8);
  const hdrView = new DataView(hdr.buffer);
  const result: ConvertResult = { from: 0, to: opts.to ?? 0, changed: false, layers: [], dropped: [], bytesIn: 0, bytesOut: 0 };
  let inLibxc = false;
  let sdeWritten = false;

  const writeHeader = async (type: number, length: number, le: boolean): Promise<void> => {
    hdrView.setUint32(0, type >>> 0, le);
    hdrView.setUint32(4, length, le);
    await out.write(hdr);
  };

  const copyRecord = async (item: RecordItem): Promise<void> => {
    await writeHeader(item.type, item.length, item.littleEndian);
    await out.write(item.body);
    await out.write(item.padding);
    await item.rest?.copyTo((piece) => out.write(piece));
  };

  const insertSde = async (item: RecordItem, inferredAt: boolean): Promise<void> => {
    await writeHeader(REC_TYPE.STATIC_DATA_END, 0, item.littleEndian);
    sdeWritten = true;
    result.inserted = { beforeOffset: item.offset, beforeRecord: item.typeName, inferredAt };
  };

  for await (const item of items) {
    if ('end' in item) result.bytesIn = item.end;
    switch (item.kind) {
      case 'xl-header':
        result.layers.push('xl');
        if (!opts.unwrap) await out.write(item.raw);
        break;
      case 'libxl-header':
        result.layers.push('libxl');
        if (!opts.unwrap) await out.write(encodeLibxlHeader(item.header));
        break;
      case 'libxc-header': {
        result.layers.push('libxc');
        const from = item.image.version;
        if (from !== 2 && from !== 3) {
          throw new StreamFormatError(`libxc stream version ${from}, expected 2 or 3`, { offset: item.offset, layer: 'libxc', recordType: 'image header' });
        }
        result.from = from;
        result.to = opts.to ?? from;
        result.changed = from !== result.to;
        inLibxc = true;
        tracker.push(item);
        await out.write(encodeImageHeader({ ...item.image, version: result.to }));
        await out.write(encodeDomainHeader(item.domain, item.littleEndian));
        break;
      }
      case 'trailing':
        throw new StreamFormatError(`${item.length} octet(s) of trailing data after the stream's END`, { offset: item.offset });
      case 'record': {
        if (item.layer === 'libxl' && opts.unwrap) break;
        if (item.layer === 'libxl' || !inLibxc || !result.changed) {
          if (item.layer === 'libxc' && item.type === REC_TYPE.END) inLibxc = false;
          await copyRecord(item);
          break;
        }
        if (result.to === 3) {
          const end = tracker.push(item);
          if (item.type === REC_TYPE.STATIC_DATA_END) sdeWritten = true;
          else if (!sdeWritten && end?.inferred) await insertSde(item, true);
          else if (!sdeWritten && (DYNAMIC_RECORDS.has(item.type) || item.type === REC_TYPE.END)) await insertSde(item, false);
          await copyRecord(item);
        } else if (V3_ONLY_RECORDS.has(item.type)) {
          const d: DroppedRecord = { typeName: item.typeName, offset: item.offset, length: item.length };
          if (item.type === REC_TYPE.X86_CPUID_POLICY) d.entries = Math.floor(item.length / 24);
          if (item.type === REC_TYPE.X86_MSR_POLICY) d.entries = Math.floor(item.length / 16);
          result.dropped.push(d);
        } else {
          await copyRecord(item);
        }
        if (item.type === REC_TYPE.END) inLibxc = false;
        break;
      }
    }
    opts.onProgress?.(result.bytesIn);
  }
  await out.flush();
  result.bytesOut = sink.written;
  return result;
}
