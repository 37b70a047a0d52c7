/**
 * Dump's describe goes through the record modules: a PV record reads in the guest width
 * X86_PV_INFO gave earlier in the stream, and a body its module's length rule refuses is
 * undecodable, whatever the record.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader } from '../../src/io/byte-reader.js';
import { BufferRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { describeItem, type DescribeState } from '../../src/inspect/describe.js';
import { REC_TYPE } from '../../src/format/constants.js';
import { libxcBytes, pvRecords } from '../verify/streams.js';

async function described(bytes: Uint8Array): Promise<Map<string, { fields: Record<string, unknown>; text: string }>> {
  const out = new Map<string, { fields: Record<string, unknown>; text: string }>();
  const state: DescribeState = {};
  for await (const item of readStream(new ByteReader(new BufferRawSource(bytes), 4096), { pageContents: 'skip' })) {
    if (item.kind === 'record' && !out.has(item.typeName)) out.set(item.typeName, describeItem(item, state));
  }
  return out;
}

test('SHARED_INFO reads in the width X86_PV_INFO gave earlier in the stream', async () => {
  for (const width of [8, 4]) {
    const recs = pvRecords(3).map((r) => (r.type === REC_TYPE.X86_PV_INFO ? { ...r, body: Uint8Array.of(width, ...r.body.subarray(1)) } : r));
    const d = await described(libxcBytes(recs, { domainType: 1 }));
    assert.match(d.get('SHARED_INFO')!.text, new RegExp(`^4096 octet\\(s\\), ${width * 8}-bit, `));
  }
});

test('a body its length rule refuses is undecodable, SHARED_INFO as any other', async () => {
  const recs = pvRecords(3).map((r) => (r.type === REC_TYPE.SHARED_INFO ? { ...r, body: r.body.subarray(0, 100) } : r));
  const d = await described(libxcBytes(recs, { domainType: 1 }));
  assert.deepEqual(d.get('SHARED_INFO'), {
    fields: { undecodable: 'SHARED_INFO: body length 100, expected exactly 4096' },
    text: 'undecodable: SHARED_INFO: body length 100, expected exactly 4096',
  });
});
