/** How rules report: one small collector that stamps the severity from the code table. */
import type { StreamLocation } from '../format/errors.js';
import { describeLocation } from '../format/errors.js';
import { severityOf, type DiagnosticCode } from './codes.js';
import type { Diagnostic } from './types.js';

export class Reporter {
  readonly out: Diagnostic[] = [];
  constructor(readonly location: StreamLocation) {}

  report(code: DiagnosticCode, message: string, location: StreamLocation = this.location): void {
    this.out.push({ severity: severityOf(code), code, message, location });
  }
}

/** One line for people: "error: offset 72 (0x48), libxc, record #3, PAGE_DATA: message [code]". */
export function formatDiagnostic(d: Diagnostic): string {
  const where = describeLocation(d.location);
  return `${d.severity}: ${where ? `${where}: ` : ''}${d.message} [${d.code}]`;
}
