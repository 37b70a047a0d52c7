/**
 * DESIGN.md's rule, checked: a layer imports only from layers before it in the
 * pipeline order (cli may import everything; format imports nothing of ours and no
 * Node module), and the two engines never import each other.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ORDER = ['format', 'io', 'stream', 'verify', 'domain', 'restore', 'save', 'policy', 'migrate', 'report', 'cli'];
const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return p.endsWith('.ts') ? [p] : [];
  });
}

function layerOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

test('every import goes to the same layer or one before it', () => {
  const wrong: string[] = [];
  let checked = 0;
  for (const file of sources(SRC)) {
    const from = layerOf(file);
    if (!ORDER.includes(from)) continue; // src/index.ts re-exports every layer
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2]!;
      if (from === 'format' && (spec.startsWith('node:') || !spec.startsWith('.'))) {
        wrong.push(`${relative(SRC, file)} imports ${spec} (format imports nothing)`);
        continue;
      }
      if (!spec.startsWith('.')) continue;
      checked++;
      const to = layerOf(resolve(dirname(file), spec));
      if (!ORDER.includes(to)) continue;
      const later = ORDER.indexOf(to) > ORDER.indexOf(from);
      const engines = (from === 'restore' && to === 'save') || (from === 'save' && to === 'restore');
      if (later || engines) wrong.push(`${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
    }
  }
  assert.ok(checked > 200, `only ${checked} relative imports seen: the pattern no longer matches the code`);
  assert.deepEqual(wrong, []);
});
