/**
 * Legacy image -> v3 or v2 stream. The v3 output is byte for byte what Xen 4.17's
 * `convert-legacy-stream` writes for the same input and wrapper choice (libxc only,
 * libxl with the legacy option bit, and the xl header kept in front); v2 is the same
 * stream without STATIC_DATA_END, with version 2 in the image header, as xenmig's
 * v3 -> v2 conversion makes of the converter's output.
 */
import { REC_TYPE } from '../../format/constants.js';
import { StreamFormatError } from '../../format/errors.js';
import { encodeDomainHeader, encodeImageHeader, encodeLibxlHeader } from '../../format/headers.js';
import type { ByteReader } from '../../io/byte-reader.js';
import type { ByteSink } from '../../io/sink.js';
import { LegacyReader, type LegacyLayout, type LegacyOptions } from './reader.js';

export interface LegacyConvertOptions {
  /** 3 (what Xen's converter writes, the default) or 2. */
  to?: 2 | 3;
  legacy?: LegacyOptions;
  /** Only the libxc stream: no xl header, no libxl records, no qemu tail. */
  unwrap?: boolean;
  onProgress?: (inputOffset: number) => void;
}

export interface LegacyConvertResult {
  from: 'legacy';
  to: 2 | 3;
  layout: LegacyLayout;
  /** Output layers, outermost first. */
  layers: string[];
  records: number;
  pageBatches: number;
  notes: { offset: number; text: string }[];
  bytesIn: number;
  bytesOut: number;
}

export async function convertLegacy(reader: ByteReader, sink: ByteSink, opts: LegacyConvertOptions = {}): Promise<LegacyConvertResult> {
  const to = opts.to ?? 3;
  const unwrap = opts.unwrap ?? false;
  const legacy = new LegacyReader(reader, { legacy: opts.legacy, pageContents: 'read' });
  const hdr = new Uint8Array(8);
  const hv = new DataView(hdr.buffer);
  const layers: string[] = [];
  let records = 0;
  let pageBatches = 0;
  let bytesIn = 0;
  // Small records are gathered so a stream of them costs few writes.
  const pending: Uint8Array[] = [];
  let pendingLength = 0;
  const flush = async (): Promise<void> => {
    if (pendingLength === 0) return;
    const all = new Uint8Array(pendingLength);
    let o = 0;
    for (const p of pending) {
      all.set(p, o);
      o += p.length;
    }
    pending.length = 0;
    pendingLength = 0;
    await sink.write(all);
  };
  const write = async (bytes: Uint8Array): Promise<void> => {
    if (bytes.length === 0) return;
    if (bytes.length >= 64 * 1024) {
      await flush();
      await sink.write(bytes);
      return;
    }
    pending.push(bytes.slice());
    pendingLength += bytes.length;
    if (pendingLength >= 1 << 20) await flush();
  };

  for await (const item of legacy.items()) {
    if ('end' in item) bytesIn = item.end;
    switch (item.kind) {
      case 'xl-header':
        layers.push('xl');
        if (!unwrap) await write(item.raw);
        break;
      case 'libxl-header':
        layers.push('libxl');
        if (!unwrap) await write(encodeLibxlHeader(item.header));
        break;
      case 'libxc-header':
        layers.push('libxc');
        await write(encodeImageHeader({ ...item.image, version: to }));
        await write(encodeDomainHeader(item.domain, true));
        break;
      case 'legacy-raw':
        if (!unwrap) await write(item.bytes);
        break;
      case 'trailing':
        throw new StreamFormatError(`${item.length} octet(s) of trailing data after the legacy image`, { offset: item.offset, layer: 'legacy' });
      case 'record':
        if (item.layer === 'libxl' && unwrap) break;
        if (item.layer === 'libxc' && item.type === REC_TYPE.STATIC_DATA_END && to === 2) break;
        hv.setUint32(0, item.type, true);
        hv.setUint32(4, item.length, true);
        await write(hdr);
        await write(item.body);
        await write(item.padding);
        records++;
        if (item.layer === 'libxc' && item.type === REC_TYPE.PAGE_DATA) pageBatches++;
        break;
    }
    opts.onProgress?.(bytesIn);
  }
  await flush();
  return { from: 'legacy', to, layout: legacy.layout!, layers, records, pageBatches, notes: legacy.notes, bytesIn, bytesOut: sink.written };
}
