/** `xenmig extract <stream|-> --raw FILE --elf FILE`: guest memory out of a stream. */
import type { Command } from 'commander';
import { extractImage, isMemoryImageDir, MemoryFilesSink } from '../domain/image/memory-files.js';
import { addLegacyOptions } from './legacy-flags.js';
import { jsonOption, minVersionOption, quietOption } from './options.js';
import { failOnVerifyMismatch, restoreWithFlags, summary, type EngineFlags } from './restore.js';

export function register(program: Command): void {
  const cmd = program
    .command('extract')
    .description('write the guest memory a stream carries to a sparse raw file (pfn N at N*4096) and/or an ELF64 core')
    .argument('<stream>', 'stream file, - for standard input, or a memory image directory (restore\'s output)')
    .option('--raw <file>', 'sparse raw memory file: pfn N at offset N*4096')
    .option('--elf <file>', 'ELF64 core file: one PT_LOAD per run of pfns, p_paddr = guest physical address; NT_PRSTATUS and QEMU CPU notes per vcpu')
    .addOption(minVersionOption('refuse libxc streams older than this version'))
    .option('--checkpointed', 'the stream is checkpointed (Remus)')
    .option('--colo', 'a COLO stream: as --checkpointed, with CHECKPOINT_STATE after each CHECKPOINT_END')
    .option('--force', 'replace existing output files')
    .addOption(jsonOption('print the result as JSON'))
    .addOption(quietOption('no progress bar'));
  // A legacy image's bitness, guest type and wrapping, forced as restore takes them.
  addLegacyOptions(cmd).action(async (input: string, flags: EngineFlags & { raw?: string; elf?: string }) => {
      const opts: { raw?: string; elf?: string; force: boolean; blocking: boolean } = { force: flags.force ?? false, blocking: true };
      if (flags.raw !== undefined) opts.raw = flags.raw;
      if (flags.elf !== undefined) opts.elf = flags.elf;
      const sink = await MemoryFilesSink.create(opts);
      if (await isMemoryImageDir(input)) {
        const pages = await extractImage(input, sink);
        const runs = sink.runs();
        const vcpus = flags.elf !== undefined ? sink.vcpuRegisters().map((r) => r.vcpu) : [];
        if (flags.json) {
          process.stdout.write(JSON.stringify({ raw: flags.raw, elf: flags.elf, runs: runs.length, ...(flags.elf !== undefined ? { noteVcpus: vcpus } : {}), image: input, pfnsPopulated: pages }, null, 2) + '\n');
          return;
        }
        const outs = [flags.raw && `${flags.raw} (raw)`, flags.elf && `${flags.elf} (ELF core, ${runs.length} PT_LOAD, registers of ${vcpus.length} vcpu(s) in notes)`].filter(Boolean);
        process.stdout.write(`extracted ${pages} pfns of memory from the memory image ${input} to ${outs.join(' and ')}\n`);
        return;
      }
      const result = await restoreWithFlags(input, sink, flags, 'extract');
      const runs = sink.runs();
      const vcpus = flags.elf !== undefined ? sink.vcpuRegisters().map((r) => r.vcpu) : [];
      if (flags.json) {
        process.stdout.write(JSON.stringify({ raw: flags.raw, elf: flags.elf, runs: runs.length, ...(flags.elf !== undefined ? { noteVcpus: vcpus } : {}), ...result }, null, 2) + '\n');
        return failOnVerifyMismatch(result);
      }
      const outs = [flags.raw && `${flags.raw} (raw)`, flags.elf && `${flags.elf} (ELF core, ${runs.length} PT_LOAD, registers of ${vcpus.length} vcpu(s) in notes)`].filter(Boolean);
      process.stdout.write([`extracted ${result.pfnsPopulated} pfns of memory to ${outs.join(' and ')}`, ...summary(result)].join('\n') + '\n');
      failOnVerifyMismatch(result);
    });
}
