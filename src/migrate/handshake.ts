/**
 * The xl migration handshake, and xenmig's preflight extension of it.
 *
 * xl (tools/xl/xl_migrate.c), over one duplex byte pair:
 *
 *     receiver -> sender   banner  "xl migration receiver ready, send binary domain data.\n" (no NUL)
 *     sender -> receiver   xl save-file header with the domain config, then the libxl stream
 *     receiver -> sender   "domain received, ready to unpause\0"
 *     sender -> receiver   "domain is yours, you are cleared to unpause\0"
 *     receiver -> sender   "my copy unpause results are as follows\0" + one status byte
 *                          (0: running there; else the receiver destroys its copy and
 *                          sends "domain is yours, you are cleared to unpause\0" back:
 *                          the sender may resume its own)
 *
 * Preflight (xenmig only; a plain xl peer never sees it): right after the banner, in
 * the place of the xl header, the sender may put
 *
 *     sender -> receiver   "xenmig preflight v1\n" | length u32 big-endian | a libxc
 *                          stream holding only the headers, the static records,
 *                          STATIC_DATA_END and END
 *     receiver -> sender   "xenmig preflight verdict\n" | verdict u8 (0 accept,
 *                          1 refuse) | length u32 big-endian | UTF-8 reasons, one a line
 *
 * The receiver runs its static-data check (CPU policy against its host, minimum stream
 * version) on that stream exactly as it would at STATIC_DATA_END of the real one. After
 * a refusal the sender closes the connection: no memory was read or sent and its domain
 * never stopped. After an acceptance the handshake goes on as xl's, from the xl header;
 * a sender that only wanted the answer (`--preflight-only`) closes instead, which the
 * receiver takes as a clean end. The preflight magic differs from the xl header magic
 * in its first octet ('x' vs 'X'), so a receiver tells them apart by peeking, and a
 * plain xl receiver asked for a preflight fails on its magic check before creating
 * anything (the sender must then use --no-preflight).
 */
import {
  XL_MIGRATE_PERMISSION,
  XL_MIGRATE_RECEIVER_BANNER,
  XL_MIGRATE_RECEIVER_READY,
  XL_MIGRATE_REPORT,
} from '../format/constants.js';
import { IoError, StreamFormatError, TruncatedStreamError } from '../format/errors.js';
import type { ByteReader } from '../io/byte-reader.js';
import type { ByteSink } from '../io/sink.js';

const enc = new TextEncoder();

export const BANNER = enc.encode(XL_MIGRATE_RECEIVER_BANNER);
export const READY = enc.encode(XL_MIGRATE_RECEIVER_READY);
export const PERMISSION = enc.encode(XL_MIGRATE_PERMISSION);
export const REPORT = enc.encode(XL_MIGRATE_REPORT);

export const PREFLIGHT_REQUEST = enc.encode('xenmig preflight v1\n');
export const PREFLIGHT_VERDICT = enc.encode('xenmig preflight verdict\n');

/** xenmig's shared-secret check (src/migrate/auth.ts) opens with this. */
export const AUTH_MAGIC = enc.encode('xenmig auth v1\n');

/** Preflight bodies are a few KiB of static records; anything larger is not one. */
export const MAX_PREFLIGHT_BODY = 1024 * 1024;

export const VERDICT_ACCEPT = 0;
export const VERDICT_REFUSE = 1;

function eq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Read exactly `msg` from the peer; a closed connection or other octets fail, naming what was awaited. */
export async function expectMessage(reader: ByteReader, msg: Uint8Array, what: string): Promise<void> {
  let got: Uint8Array;
  try {
    got = await reader.read(msg.length, what);
  } catch (err) {
    if (err instanceof TruncatedStreamError) throw new IoError(`connection closed while waiting for the ${what}`, { cause: err });
    throw err;
  }
  if (!eq(got, msg)) {
    throw new StreamFormatError(`migration stream contained unexpected data instead of the ${what}`, { offset: reader.position - msg.length });
  }
}

/** Send and push out now: the peer waits for these octets. */
export async function sendMessage(sink: ByteSink & { flush(): Promise<void> }, ...parts: Uint8Array[]): Promise<void> {
  for (const p of parts) await sink.write(p);
  await sink.flush();
}

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

export function encodePreflightRequest(staticStream: Uint8Array): Uint8Array[] {
  return [PREFLIGHT_REQUEST, u32be(staticStream.length), staticStream];
}

export function encodeVerdict(accept: boolean, reasons: readonly string[]): Uint8Array[] {
  const text = enc.encode(reasons.join('\n'));
  return [PREFLIGHT_VERDICT, Uint8Array.of(accept ? VERDICT_ACCEPT : VERDICT_REFUSE), u32be(text.length), text];
}

async function readLength(reader: ByteReader, what: string): Promise<number> {
  const b = await reader.read(4, `${what} length`);
  const n = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false);
  if (n > MAX_PREFLIGHT_BODY) throw new StreamFormatError(`${what}: length ${n} exceeds ${MAX_PREFLIGHT_BODY}`, { offset: reader.position - 4 });
  return n;
}

/** After the request magic: the static-data stream (a copy). */
export async function readPreflightBody(reader: ByteReader): Promise<Uint8Array> {
  const n = await readLength(reader, 'preflight request');
  return (await reader.read(n, 'preflight static data')).slice();
}

export interface Verdict {
  accepted: boolean;
  reasons: string[];
}

export async function readVerdict(reader: ByteReader): Promise<Verdict> {
  await expectMessage(reader, PREFLIGHT_VERDICT, 'preflight verdict');
  const v = (await reader.read(1, 'preflight verdict'))[0]!;
  if (v !== VERDICT_ACCEPT && v !== VERDICT_REFUSE) {
    throw new StreamFormatError(`preflight verdict ${v}, expected 0 (accept) or 1 (refuse)`, { offset: reader.position - 1 });
  }
  const n = await readLength(reader, 'preflight verdict');
  const text = new TextDecoder().decode(await reader.read(n, 'preflight reasons'));
  return { accepted: v === VERDICT_ACCEPT, reasons: text === '' ? [] : text.split('\n') };
}

/** What the sender put after the banner, by its first octets. */
export async function peekOpening(reader: ByteReader): Promise<'xl' | 'preflight' | 'auth' | 'end' | 'other'> {
  const head = await reader.peek(PREFLIGHT_REQUEST.length);
  if (head.length === 0) return 'end';
  if (eq(head, PREFLIGHT_REQUEST)) return 'preflight';
  if (head.length >= AUTH_MAGIC.length && eq(head.subarray(0, AUTH_MAGIC.length), AUTH_MAGIC)) return 'auth';
  const xl = enc.encode('Xen saved domain');
  if (head.length >= xl.length && eq(head.subarray(0, xl.length), xl)) return 'xl';
  return 'other';
}
