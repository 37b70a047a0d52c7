/**
 * xenmig's shared-secret check (both ends given `--secret-file`): a mutual
 * challenge-response with HMAC-SHA256, right after xl's banner and before anything else.
 * The secret never travels: each side sends a fresh random nonce and proves it holds the
 * secret with an HMAC over both nonces and its role, so a recorded exchange proves
 * nothing in a later one, and a receiver that does not hold the secret cannot take a
 * domain (the sender checks the receiver first).
 *
 *     sender -> receiver   "xenmig auth v1\n" | nonceS (32)
 *     receiver -> sender   "xenmig auth reply\n" | 0 | nonceR (32) | HMAC(secret, "xenmig auth v1 receiver\0" nonceS nonceR)
 *                       or "xenmig auth reply\n" | 1 | length u32 BE | reason (UTF-8)   (no secret here)
 *     sender -> receiver   HMAC(secret, "xenmig auth v1 sender\0" nonceS nonceR)
 *     receiver -> sender   "xenmig auth result\n" | 0 accept / 1 refuse | length u32 BE | reason
 *
 * Then the handshake goes on as without the secret (preflight, xl header...). The check
 * says who may connect; it does not encrypt or sign the stream that follows.
 * A plain xl peer never sees any of this: it is only spoken when the sender has a secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { RefusedError, StreamFormatError, UsageError } from '../format/errors.js';
import type { ByteReader } from '../io/byte-reader.js';
import type { ChannelSink } from './transport.js';
import { AUTH_MAGIC, expectMessage, sendMessage } from './handshake.js';

const enc = new TextEncoder();
export const AUTH_REQUEST = AUTH_MAGIC;
export const AUTH_REPLY = enc.encode('xenmig auth reply\n');
export const AUTH_RESULT = enc.encode('xenmig auth result\n');
const NONCE = 32;
const MAC = 32;
const MAX_REASON = 64 * 1024;

/** The secret in FILE (one trailing newline dropped, so `echo word > FILE` works on both ends); a warning when others may read it. */
export function readSecretFile(path: string): { secret: Uint8Array; warning?: string } {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read --secret-file ${path}: ${(err as Error).message}`);
  }
  let n = bytes.length;
  if (n > 0 && bytes[n - 1] === 0x0a) n--;
  if (n > 0 && bytes[n - 1] === 0x0d) n--;
  if (n === 0) throw new UsageError(`--secret-file ${path} is empty`);
  const mode = statSync(path).mode;
  const warning = (mode & 0o077) !== 0 ? `warning: --secret-file ${path} may be read by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it` : undefined;
  return { secret: new Uint8Array(bytes.subarray(0, n)), ...(warning ? { warning } : {}) };
}

function mac(secret: Uint8Array, role: 'sender' | 'receiver', nonceS: Uint8Array, nonceR: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(`xenmig auth v1 ${role}\0`).update(nonceS).update(nonceR).digest();
}

function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, false);
  return b;
}

async function readReason(reader: ByteReader, what: string): Promise<string> {
  const b = await reader.read(4, `${what} length`);
  const n = new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false);
  if (n > MAX_REASON) throw new StreamFormatError(`${what}: length ${n} exceeds ${MAX_REASON}`, { offset: reader.position - 4 });
  return new TextDecoder().decode(await reader.read(n, what));
}

function reasonParts(code: number, reason: string): Uint8Array[] {
  const text = enc.encode(reason);
  return [Uint8Array.of(code), u32be(text.length), text];
}

/** The sender's side, after the banner: throws RefusedError when either side fails the check. */
export async function authenticateToReceiver(reader: ByteReader, sink: ChannelSink, secret: Uint8Array): Promise<void> {
  const nonceS = randomBytes(NONCE);
  await sendMessage(sink, AUTH_REQUEST, nonceS);
  await expectMessage(reader, AUTH_REPLY, 'authentication reply');
  const code = (await reader.read(1, 'authentication reply'))[0]!;
  if (code !== 0) {
    throw new RefusedError('the receiver refused the authentication; nothing was sent and the domain keeps running here', [await readReason(reader, 'authentication refusal')]);
  }
  const nonceR = (await reader.read(NONCE, 'receiver nonce')).slice();
  const theirs = (await reader.read(MAC, 'receiver proof')).slice();
  if (!timingSafeEqual(theirs, mac(secret, 'receiver', nonceS, nonceR))) {
    // No proof goes to a receiver that gave none; zeros let it log a wrong secret instead of a cut connection.
    await sendMessage(sink, new Uint8Array(MAC));
    await expectMessage(reader, AUTH_RESULT, 'authentication result').catch(() => undefined);
    throw new RefusedError('the receiver does not hold this shared secret (its proof does not match --secret-file); nothing was sent and the domain keeps running here');
  }
  await sendMessage(sink, mac(secret, 'sender', nonceS, nonceR));
  await expectMessage(reader, AUTH_RESULT, 'authentication result');
  const ok = (await reader.read(1, 'authentication result'))[0]!;
  const reason = await readReason(reader, 'authentication result');
  if (ok !== 0) throw new RefusedError('the receiver refused the authentication; nothing was sent and the domain keeps running here', [reason]);
}

/**
 * The receiver's side, after the request magic was read: undefined when the sender
 * proved it holds the secret, else the reason it was refused (already told to it).
 */
export async function authenticateSender(reader: ByteReader, sink: ChannelSink, secret: Uint8Array | undefined): Promise<string | undefined> {
  const nonceS = (await reader.read(NONCE, 'sender nonce')).slice();
  if (secret === undefined) {
    const reason = 'this receiver has no shared secret (start it with --secret-file)';
    await sendMessage(sink, AUTH_REPLY, ...reasonParts(1, reason));
    return reason;
  }
  const nonceR = randomBytes(NONCE);
  await sendMessage(sink, AUTH_REPLY, Uint8Array.of(0), nonceR, mac(secret, 'receiver', nonceS, nonceR));
  const theirs = (await reader.read(MAC, 'sender proof')).slice();
  const good = timingSafeEqual(theirs, mac(secret, 'sender', nonceS, nonceR));
  const reason = good ? '' : 'wrong shared secret';
  await sendMessage(sink, AUTH_RESULT, ...reasonParts(good ? 0 : 1, reason));
  return good ? undefined : reason;
}
