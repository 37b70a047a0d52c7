/** `xenmig info`: one screen about a stream (reads it through, verifying as it goes). */
import type { Command } from 'commander';
import { ExitCode, EXIT_NONCONFORMING } from './exit-codes.js';
import { startProgress } from './progress.js';
import { inputFormatOption, jsonOption, quietOption } from './options.js';
import { jsonReplacer } from './json.js';
import { addLegacyOptions, legacyOptions, type LegacyFlags } from './legacy-flags.js';

export function register(program: Command): void {
  const cmd = program
    .command('info')
    .description('one screen: layers, versions, guest type, Xen version, memory, vcpus, policies, static data end, warnings')
    .argument('<file>', 'stream file, or - for standard input')
    .addOption(inputFormatOption())
    .addOption(jsonOption('print the summary and diagnostics as one JSON object'))
    .option('--checkpointed', 'a checkpointed (Remus) stream: CHECKPOINT records allowed; in a libxl stream, libxl records after each CHECKPOINT up to CHECKPOINT_END')
    .option('--colo', 'a COLO stream: as --checkpointed, and CHECKPOINT_STATE after each CHECKPOINT_END')
    .addOption(quietOption('no progress on stderr'));
  addLegacyOptions(cmd).action(async (file: string, o: LegacyFlags & { format: 'auto'; json?: boolean; checkpointed?: boolean; colo?: boolean; quiet?: boolean }) => {
      const { verifyStream } = await import('../verify/index.js');
      const { resultLines } = await import('../inspect/summary-text.js');
      const progress = await startProgress('info', o);
      try {
        const result = await verifyStream(file, { format: o.format, legacy: legacyOptions(o), checkpointed: o.colo ? 'colo' : (o.checkpointed ?? false), onProgress: progress.update });
        progress.stop();
        if (o.json) process.stdout.write(JSON.stringify(result, jsonReplacer, 2) + '\n');
        else process.stdout.write(resultLines(result).join('\n') + '\n');
        if (!result.conforming) throw new ExitCode(EXIT_NONCONFORMING);
      } finally {
        progress.stop();
      }
    });
}
