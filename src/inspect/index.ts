/**
 * Reading a stream for people and scripts: each item's decoded fields and one-line text
 * (what `dump` prints), a summary's screen of text (what `info` prints), and whether a
 * restored domain holds the source's memory (what `demo` proves).
 */
export { describeItem, itemJson, itemText, mergeStats, pageDataStats, runText, type Fields, type PageRun } from './describe.js';
export { resultLines, summaryLines } from './summary-text.js';
export { compareMemory, type MemoryComparison } from './memory.js';
