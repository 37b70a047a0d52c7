/**
 * A report from a stream to a file: the model in one pass, the page, written to a
 * temporary file beside the target and renamed into place (src/io/sink.ts), so a
 * failed report leaves nothing under its name.
 */
import { openSink, writeWhole, type FileSinkOptions } from '../io/sink.js';
import type { ByteReader } from '../io/byte-reader.js';
import { loadChartLib } from './chart-lib.js';
import { buildReportModel, type ReportModel, type ReportModelOptions } from './model.js';
import { renderReportPage, type PageOptions } from './page.js';

export interface WrittenReport {
  model: ReportModel;
  path: string;
  /** Octets of the page. */
  bytes: number;
}

export async function writeReportPage(model: ReportModel, path: string, opts: FileSinkOptions & PageOptions = {}): Promise<WrittenReport> {
  const chartLib = opts.chartLib ?? loadChartLib();
  const html = Buffer.from(renderReportPage(model, { ...opts, ...(chartLib ? { chartLib } : {}) }), 'utf8');
  const sink = await openSink(path, opts);
  await writeWhole(sink, () => sink.write(html));
  return { model, path, bytes: html.length };
}

export async function writeReport(
  input: string | ByteReader,
  path: string,
  opts: ReportModelOptions & FileSinkOptions & PageOptions = {},
): Promise<WrittenReport> {
  const model = await buildReportModel(input, opts);
  return writeReportPage(model, path, opts);
}
