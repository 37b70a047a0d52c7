/** The domains on disk: the memory image directory, and memory-only outputs (raw, ELF core). */
export * from './domain-json.js';
export * from './memory-image.js';
export * from './memory-files.js';
export * from './elf-core.js';
export * from './page-file.js';
export * from './pfn-map.js';
