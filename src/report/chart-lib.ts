/**
 * The charting library the page inlines: uPlot (MIT, no dependencies, 51 KB minified),
 * read from its package at report time, so the page needs no network and the library
 * stays the maintained, versioned package rather than a copy of it in this tree. uPlot
 * draws line and bar charts on a canvas, which is all the pre-copy section needs; the
 * memory map and the timeline are pictures of our own data (a canvas raster and
 * positioned boxes) that no charting library draws better.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ChartLib } from './page.js';

let cached: ChartLib | null | undefined;

/** uPlot's script and style, or undefined when the package is not installed (the page then shows tables only). */
export function loadChartLib(): ChartLib | undefined {
  if (cached !== undefined) return cached ?? undefined;
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve('uplot/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
    const dir = pkgPath.slice(0, -'package.json'.length);
    cached = {
      name: 'uPlot',
      version: pkg.version,
      script: readFileSync(`${dir}dist/uPlot.iife.min.js`, 'utf8'),
      style: readFileSync(`${dir}dist/uPlot.min.css`, 'utf8'),
    };
  } catch {
    cached = null;
  }
  return cached ?? undefined;
}
