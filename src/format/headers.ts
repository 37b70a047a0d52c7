/**
 * The fixed headers of each layer: libxc image and domain headers, the libxl stream
 * header and the xl save-file header. Decoders keep every field, reserved ones too, so
 * a verifier can report them and an encoder can reproduce the input exactly.
 */
import { ByteCursor, ByteWriter } from './bytes.js';
import { struct } from './layout.js';
import {
  DHDR_SIZE,
  IHDR_ID,
  IHDR_MARKER,
  IHDR_OPT_BIG_ENDIAN,
  IHDR_SIZE,
  LIBXL_HEADER_SIZE,
  LIBXL_IDENT,
  LIBXL_OPT_BIG_ENDIAN,
  XL_BYTEORDER,
  XL_HEADER_FIXED_SIZE,
  XL_MAGIC,
  XL_MAGIC_SIZE,
} from './constants.js';
import { StreamFormatError } from './errors.js';

export interface ImageHeader {
  marker: bigint;
  id: number;
  version: number;
  options: number;
  reserved1: number;
  reserved2: number;
}

export function imageHeaderIsBigEndian(h: ImageHeader): boolean {
  return (h.options & IHDR_OPT_BIG_ENDIAN) !== 0;
}

/** The image header is big-endian whatever the stream's record byte order. */
export function decodeImageHeader(bytes: Uint8Array): ImageHeader {
  const c = new ByteCursor(bytes, false);
  c.need(IHDR_SIZE, 'image header');
  return {
    marker: c.u64(),
    id: c.u32(),
    version: c.u32(),
    options: c.u16(),
    reserved1: c.u16(),
    reserved2: c.u32(),
  };
}

export function encodeImageHeader(h: ImageHeader): Uint8Array {
  return new ByteWriter(false, IHDR_SIZE)
    .u64(h.marker)
    .u32(h.id)
    .u32(h.version)
    .u16(h.options)
    .u16(h.reserved1)
    .u32(h.reserved2)
    .finish();
}

export function makeImageHeader(version: number, bigEndian = false): ImageHeader {
  return {
    marker: IHDR_MARKER,
    id: IHDR_ID,
    version,
    options: bigEndian ? IHDR_OPT_BIG_ENDIAN : 0,
    reserved1: 0,
    reserved2: 0,
  };
}

export interface DomainHeader {
  type: number;
  pageShift: number;
  reserved: number;
  xenMajor: number;
  xenMinor: number;
}

export function decodeDomainHeader(bytes: Uint8Array, littleEndian: boolean): DomainHeader {
  const c = new ByteCursor(bytes, littleEndian);
  c.need(DHDR_SIZE, 'domain header');
  return { type: c.u32(), pageShift: c.u16(), reserved: c.u16(), xenMajor: c.u32(), xenMinor: c.u32() };
}

export function encodeDomainHeader(h: DomainHeader, littleEndian: boolean): Uint8Array {
  return new ByteWriter(littleEndian, DHDR_SIZE)
    .u32(h.type)
    .u16(h.pageShift)
    .u16(h.reserved)
    .u32(h.xenMajor)
    .u32(h.xenMinor)
    .finish();
}

export interface LibxlHeader {
  ident: bigint;
  version: number;
  options: number;
}

export function libxlHeaderIsBigEndian(h: LibxlHeader): boolean {
  return (h.options & LIBXL_OPT_BIG_ENDIAN) !== 0;
}

/** The libxl header is big-endian whatever the stream's record byte order. */
export function decodeLibxlHeader(bytes: Uint8Array): LibxlHeader {
  const c = new ByteCursor(bytes, false);
  c.need(LIBXL_HEADER_SIZE, 'libxl header');
  return { ident: c.u64(), version: c.u32(), options: c.u32() };
}

export function encodeLibxlHeader(h: LibxlHeader): Uint8Array {
  return new ByteWriter(false, LIBXL_HEADER_SIZE).u64(h.ident).u32(h.version).u32(h.options).finish();
}

export function makeLibxlHeader(bigEndian = false, legacy = false): LibxlHeader {
  return { ident: LIBXL_IDENT, version: 2, options: (bigEndian ? 1 : 0) | (legacy ? 2 : 0) };
}

export interface XlHeader {
  /** The 32 magic octets as read (compare with XL_MAGIC). */
  magic: Uint8Array;
  /** Byte order the header's integers were written in (from the byteorder field). */
  littleEndian: boolean;
  mandatoryFlags: number;
  optionalFlags: number;
  /** Everything after the fixed part, optional_data_len octets. */
  optionalData: Uint8Array;
  /** The domain config carried in the optional data, when present. */
  config?: Uint8Array;
}

export const XL_MAGIC_BYTES: Uint8Array = new TextEncoder().encode(XL_MAGIC);
if (XL_MAGIC_BYTES.length !== XL_MAGIC_SIZE) throw new Error('xl magic must be 32 octets');

export function hasXlMagic(bytes: Uint8Array): boolean {
  if (bytes.length < XL_MAGIC_SIZE) return false;
  for (let i = 0; i < XL_MAGIC_SIZE; i++) if (bytes[i] !== XL_MAGIC_BYTES[i]) return false;
  return true;
}

/**
 * The fixed part is 48 octets; `optionalDataLength` tells the caller how much more
 * to read before calling `decodeXlHeader` on the whole header.
 */
export function xlHeaderFixed(bytes: Uint8Array): { littleEndian: boolean; optionalDataLength: number } {
  if (bytes.length < XL_HEADER_FIXED_SIZE) throw new StreamFormatError('xl header: need 48 octets');
  const view = new DataView(bytes.buffer, bytes.byteOffset, XL_HEADER_FIXED_SIZE);
  const le = view.getUint32(XL_MAGIC_SIZE, true);
  const be = view.getUint32(XL_MAGIC_SIZE, false);
  let littleEndian: boolean;
  if (le === XL_BYTEORDER) littleEndian = true;
  else if (be === XL_BYTEORDER) littleEndian = false;
  else
    throw new StreamFormatError(
      `xl header: byteorder field is 0x${le.toString(16).padStart(8, '0')}, expected 0x01020304 in either byte order`,
    );
  return { littleEndian, optionalDataLength: view.getUint32(44, littleEndian) };
}

export function decodeXlHeader(bytes: Uint8Array): XlHeader {
  const { littleEndian, optionalDataLength } = xlHeaderFixed(bytes);
  const c = new ByteCursor(bytes, littleEndian);
  const magic = c.bytesView(XL_MAGIC_SIZE, 'xl magic');
  c.u32('byteorder');
  const mandatoryFlags = c.u32('mandatory_flags');
  const optionalFlags = c.u32('optional_flags');
  c.u32('optional_data_len');
  const optionalData = c.bytesView(optionalDataLength, 'xl optional data');
  let config: Uint8Array | undefined;
  if (optionalData.length >= 4) {
    const oc = new ByteCursor(optionalData, littleEndian);
    const len = oc.u32('config_len');
    if (len > oc.remaining) {
      throw new StreamFormatError(`xl header: config_len ${len} exceeds the ${oc.remaining} octets of optional data left`);
    }
    config = oc.bytesView(len, 'xl config');
  }
  return { magic, littleEndian, mandatoryFlags, optionalFlags, optionalData, config };
}

/** Optional data as xl writes it: config_len u32, then the config. */
export function xlOptionalDataForConfig(config: Uint8Array, littleEndian = true): Uint8Array {
  return new ByteWriter(littleEndian, config.length + 4).u32(config.length).bytes(config).finish();
}

export function encodeXlHeader(h: XlHeader): Uint8Array {
  return new ByteWriter(h.littleEndian, XL_HEADER_FIXED_SIZE + h.optionalData.length)
    .bytes(h.magic)
    .u32(XL_BYTEORDER)
    .u32(h.mandatoryFlags)
    .u32(h.optionalFlags)
    .u32(h.optionalData.length)
    .bytes(h.optionalData)
    .finish();
}

/** The config as text: xl writes it NUL-terminated, so one trailing NUL is dropped. */
export function xlConfigText(config: Uint8Array): string {
  const end = config.length > 0 && config[config.length - 1] === 0 ? config.length - 1 : config.length;
  return new TextDecoder().decode(config.subarray(0, end));
}

export function makeXlHeader(configText: string | undefined, opts: { json?: boolean; littleEndian?: boolean } = {}): XlHeader {
  const littleEndian = opts.littleEndian ?? true;
  const config = configText === undefined ? undefined : new TextEncoder().encode(configText + '\0');
  const optionalData = config ? xlOptionalDataForConfig(config, littleEndian) : new Uint8Array(0);
  return {
    magic: XL_MAGIC_BYTES,
    littleEndian,
    mandatoryFlags: 0x2 | (opts.json ?? true ? 0x1 : 0),
    optionalFlags: 0,
    optionalData,
    config,
  };
}

/** Every record's head, libxc's and libxl's alike: type, then body length (padding not counted). */
export const RECORD_HEADER_LAYOUT = struct('rhdr', { type: 'u32', length: 'u32' });
