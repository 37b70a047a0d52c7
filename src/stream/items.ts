/**
 * What the framing reader yields: the headers of each layer and every record, with
 * where it sits in the outermost stream. Consumers (verifier, dumper, restorer,
 * converter, guard) all take this one sequence.
 */
import type { DomainHeader, ImageHeader, LibxlHeader, XlHeader } from '../format/headers.js';
import type { LentTaker } from '../io/byte-reader.js';

export interface XlHeaderItem {
  kind: 'xl-header';
  offset: number;
  end: number;
  header: XlHeader;
  /** The header's octets as read, for converters that copy it through. */
  raw: Uint8Array;
}

export interface LibxlHeaderItem {
  kind: 'libxl-header';
  offset: number;
  end: number;
  header: LibxlHeader;
  littleEndian: boolean;
}

export interface LibxcHeaderItem {
  kind: 'libxc-header';
  offset: number;
  end: number;
  image: ImageHeader;
  domain: DomainHeader;
  littleEndian: boolean;
}

export interface RecordItem {
  kind: 'record';
  layer: 'libxl' | 'libxc';
  /** Offset of the record's 8-octet header. */
  offset: number;
  /** Offset just past its padding. */
  end: number;
  /** Index within its layer's record sequence. */
  index: number;
  type: number;
  typeName: string;
  /** body_length as the header says. */
  length: number;
  littleEndian: boolean;
  /**
   * The body as a view valid only until the next item is requested. When PAGE_DATA
   * contents were skipped it holds just count, reserved and the pfn array.
   */
  body: Uint8Array;
  bodyComplete: boolean;
  padding: Uint8Array;
  /**
   * Only with `pageContents: 'stream'`, on PAGE_DATA: the record's remaining octets
   * (page contents, then padding, exactly as in the input; `padding` is then empty).
   * Copy them before requesting the next item, or they are passed over.
   */
  rest?: RecordRest;
}

export interface RecordRest {
  /** Octets left: the rest of the body and the padding. */
  length: number;
  /**
   * Hands them to `write` in pieces, each valid only until `write` returns; every piece
   * but the last is a multiple of `align` octets.
   */
  copyTo(write: (piece: Uint8Array) => Promise<void> | void, align?: number): Promise<void>;
  /**
   * Only when the input lends its buffers (ByteReader.canLend): hands them to `take`
   * as lists of views, about `piece` octets per call (multiples of `align` but the
   * last), without copying; `take` may keep them until it calls `release`. Like
   * copyTo, at most once, instead of it.
   */
  lendTo?(take: LentTaker, piece: number, align?: number): Promise<void>;
}

/** Octets after the outermost END (only reported when the reader expects end of input). */
export interface TrailingItem {
  kind: 'trailing';
  offset: number;
  /** How many octets follow (a lower bound on non-seekable inputs: at least 1). */
  length: number;
}

export type StreamItem = XlHeaderItem | LibxlHeaderItem | LibxcHeaderItem | RecordItem | TrailingItem;

export function itemLabel(item: StreamItem): string {
  switch (item.kind) {
    case 'xl-header':
      return 'xl header';
    case 'libxl-header':
      return 'libxl header';
    case 'libxc-header':
      return 'libxc header';
    case 'record':
      return item.typeName;
    case 'trailing':
      return 'trailing data';
  }
}
