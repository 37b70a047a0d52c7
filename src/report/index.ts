/**
 * `xenmig report`'s library: a stream (and, optionally, a host policy and a migration's
 * log) to one self-contained HTML page. buildReportModel reads the stream once;
 * renderReportPage turns the model into the page; writeReport does both into a file.
 */
export { MAX_FINDINGS, REPORT_MODEL_FORMAT, ReportBuilder, buildReportModel, type Finding, type ReportModel, type ReportModelOptions } from './model.js';
export { CELLS, MemoryMap, type MemoryMapData, type PfnRange } from './memory-map.js';
export { MAX_MARKS, Timeline, type Mark, type MarkKind } from './timeline.js';
export { StreamRounds, type StreamRound } from './rounds.js';
export { VcpuCollector, cpuMode as cpuModeText, decodeHvmCpu, type VcpuView } from './vcpus.js';
export { cpuSection, type CpuSection, type CpuHostVerdict } from './cpu.js';
export { parseMigrationLog, type PrecopyRound, type PrecopySection } from './precopy.js';
export { renderReportPage, type ChartLib, type PageOptions } from './page.js';
export { loadChartLib } from './chart-lib.js';
export { writeReport, writeReportPage, type WrittenReport } from './write.js';
export { ReportTap } from './tap.js';
