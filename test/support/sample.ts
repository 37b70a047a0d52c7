/**
 * The sample stream as tests take it: the sample domain saved by the save engine
 * (src/save/sample.ts), into memory or into a file.
 */
import { AtomicFileSink, BufferSink } from '../../src/io/sink.js';
import { saveSampleStream, type SampleStreamOptions } from '../../src/save/sample.js';

export async function sampleBytes(opts: SampleStreamOptions = {}): Promise<Uint8Array> {
  const sink = new BufferSink();
  await saveSampleStream(sink, opts);
  return sink.bytes();
}

export async function sampleFile(path: string, opts: SampleStreamOptions = {}): Promise<number> {
  const sink = await AtomicFileSink.create(path);
  await saveSampleStream(sink, opts);
  await sink.commit();
  return sink.written;
}
