/** `xenmig verify`: every rule of the format, one line per finding, exit 0/1/2. */
import type { Command } from 'commander';
import type { VerifyResult } from '../verify/index.js';
import { ExitCode, EXIT_NONCONFORMING } from './exit-codes.js';
import { inputFormatOption, jsonOption, quietOption } from './options.js';
import { startProgress } from './progress.js';
import { jsonReplacer } from './json.js';
import { addLegacyOptions, legacyOptions, type LegacyFlags } from './legacy-flags.js';

export function verdictLine(result: VerifyResult): string {
  const counts = `${result.errors} error(s), ${result.warnings} warning(s)`;
  const more = result.suppressed > 0 ? ` (${result.suppressed} more not shown)` : '';
  return result.conforming ? `conforming: ${counts}${more}` : `NOT conforming: ${counts}${more}`;
}

export function register(program: Command): void {
  const cmd = program
    .command('verify')
    .description('check a stream against every rule of the format (exit 0 conforming, 1 not, 2 usage/I/O)')
    .argument('<file>', 'stream file, or - for standard input')
    .addOption(inputFormatOption())
    .addOption(jsonOption('print one JSON object: verdict, diagnostics and summary'))
    .option('--checkpointed', 'a checkpointed (Remus) stream: CHECKPOINT records allowed; in a libxl stream, libxl records after each CHECKPOINT up to CHECKPOINT_END')
    .option('--colo', 'a COLO stream: as --checkpointed, and CHECKPOINT_STATE after each CHECKPOINT_END')
    .option('--read-all', 'read every octet, page contents too (default: jump over page contents on files)')
    .addOption(quietOption('no progress on stderr'));
  addLegacyOptions(cmd).action(async (file: string, o: LegacyFlags & { format: 'auto'; json?: boolean; checkpointed?: boolean; colo?: boolean; readAll?: boolean; quiet?: boolean }) => {
      const { verifyStream, formatDiagnostic } = await import('../verify/index.js');
      const progress = await startProgress('verify', o);
      let result: VerifyResult;
      try {
        result = await verifyStream(file, {
          format: o.format,
          legacy: legacyOptions(o),
          checkpointed: o.colo ? 'colo' : (o.checkpointed ?? false),
          readAll: o.readAll ?? false,
          onProgress: progress.update,
        });
      } finally {
        progress.stop();
      }
      if (o.json) {
        process.stdout.write(JSON.stringify(result, jsonReplacer, 2) + '\n');
      } else {
        const lines = result.diagnostics.map(formatDiagnostic);
        lines.push(verdictLine(result));
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (!result.conforming) throw new ExitCode(EXIT_NONCONFORMING);
    });
}
