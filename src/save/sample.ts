/**
 * A sample stream: the sample domain (src/domain/simulated) saved by the save engine,
 * suspended, as `xl save` would write it. Tests, benchmarks and the build's code-cache
 * warm-up take their streams from here, so "the sample" has one definition (the domain)
 * and one writer (the engine).
 */
import type { ByteSink } from '../io/sink.js';
import { SimulatedDomain, type SimulatedDomainOptions } from '../domain/simulated/simulated-domain.js';
import { saveDomain, type SaveLayer, type SaveSummary } from './save.js';

export interface SampleStreamOptions extends Partial<Omit<SimulatedDomainOptions, 'workload'>> {
  /** Outermost layer. Default 'xl'. */
  layer?: SaveLayer;
  /** libxc stream version. Default 3. */
  streamVersion?: 2 | 3;
}

/** Saves a fresh sample domain (HVM, 64 MiB, 2 vcpus unless told) into `sink`; the caller commits the sink. */
export async function saveSampleStream(sink: ByteSink, opts: SampleStreamOptions = {}): Promise<SaveSummary> {
  const { layer, streamVersion, ...domain } = opts;
  const d = SimulatedDomain.create({ ...domain, guest: domain.guest ?? 'hvm', memoryMiB: domain.memoryMiB ?? 64 });
  return saveDomain(d, sink, { layer: layer ?? 'xl', streamVersion });
}
