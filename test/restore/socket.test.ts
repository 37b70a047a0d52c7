import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo } from 'node:net';
import { ByteReader } from '../../src/io/byte-reader.js';
import { ReadableRawSource } from '../../src/io/raw-source.js';
import { readStream } from '../../src/stream/reader.js';
import { restoreStream } from '../../src/restore/index.js';
import { libxlWrap } from '../support/builder.js';
import { hvmStream } from './fixtures.js';
import { LogSink } from './memory-sink.js';

test('restore from a TCP socket, in small writes, stopping at END (the handshake goes on after it)', async () => {
  const sent = hvmStream({ pfns: Array.from({ length: 40 }, (_, i) => i * 3) });
  const bytes = libxlWrap(sent.bytes);
  const server = createServer((sock) => {
    let pos = 0;
    const pump = (): void => {
      while (pos < bytes.length) {
        const chunk = bytes.subarray(pos, pos + 1000);
        pos += chunk.length;
        if (!sock.write(chunk)) return void sock.once('drain', pump);
      }
      sock.write('domain received');
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const sock = connect(port, '127.0.0.1');
  try {
    const reader = new ByteReader(new ReadableRawSource('socket', sock));
    const sink = new LogSink();
    const result = await restoreStream(readStream(reader, { expectEndOfInput: false }), sink);
    assert.equal(result.pagesWritten, 40);
    for (const [pfn, page] of sent.pages) assert.deepEqual(sink.pages.get(pfn), page);
    assert.equal(sink.calls.at(-1), 'commit');
  } finally {
    sock.destroy();
    await new Promise((r) => server.close(r));
  }
});
