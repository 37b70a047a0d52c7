/**
 * DESIGN.md's rule, checked: a layer imports only from layers before it in the
 * pipeline order (cli may import everything; format imports nothing of ours and no
 * Node module), the two engines never import each other, the legacy framing reader keeps
 * to its corner of stream, and no module reaches itself through its imports (a circle of
 * any length, inside a layer too).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

// The legacy (Xen <= 4.5) framing reader is part of stream (src/stream/legacy): it yields
// stream's items, and stream/any.ts hands it legacy inputs.
const ORDER = ['format', 'io', 'stream', 'verify', 'domain', 'inspect', 'restore', 'save', 'policy', 'diff', 'migrate', 'report', 'cli'];
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

const IMPORT = /(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Relative imports of each source file, as source paths (the .js of an import is its .ts). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    if (file.endsWith('.d.ts')) continue;
    const to: string[] = [];
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) continue;
      to.push(resolve(dirname(file), spec).replace(/\.(c?)js$/, '.$1ts'));
    }
    graph.set(file, to);
  }
  return graph;
}

/** Every circle the DFS meets, each as "a.ts -> b.ts -> a.ts" (relative to src), once. */
function cycles(graph: Map<string, string[]>): string[] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const found = new Set<string>();
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const to of graph.get(f) ?? []) {
      if (!graph.has(to)) continue;
      const s = state.get(to);
      if (s === 'open') {
        const circle = stack.slice(stack.indexOf(to)).map((x) => relative(SRC, x));
        // One spelling per circle: start at its least name.
        const least = circle.indexOf([...circle].sort()[0]!);
        const rotated = [...circle.slice(least), ...circle.slice(0, least)];
        found.add([...rotated, rotated[0]].join(' -> '));
      } else if (s === undefined) visit(to);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return [...found].sort();
}

test('legacy framing stays beside the v2 framing: it takes only the item types from stream, and only any.ts dispatches to it', () => {
  const graph = importGraph();
  const stream = join(SRC, 'stream');
  const legacy = join(stream, 'legacy');
  const inside = (f: string, dir: string): boolean => f.startsWith(dir + '/');
  const wrong: string[] = [];
  let legacyFiles = 0;
  for (const [file, tos] of graph) {
    if (inside(file, legacy)) legacyFiles++;
    for (const to of tos) {
      if (inside(file, legacy) && inside(to, stream) && !inside(to, legacy) && to !== join(stream, 'items.ts')) wrong.push(`${relative(SRC, file)} imports ${relative(SRC, to)}`);
      if (inside(file, stream) && !inside(file, legacy) && inside(to, legacy) && file !== join(stream, 'any.ts')) wrong.push(`${relative(SRC, file)} imports ${relative(SRC, to)}`);
    }
  }
  assert.ok(legacyFiles >= 5, `only ${legacyFiles} files seen in src/stream/legacy`);
  assert.deepEqual(wrong, []);
});

test('no module imports itself through others (the import graph has no circle)', () => {
  const graph = importGraph();
  assert.ok(graph.size > 100, `only ${graph.size} modules seen`);
  const found = cycles(graph);
  assert.deepEqual(found, [], `import circles:\n${found.join('\n')}`);
});

test('the circle finder finds circles', () => {
  const g = new Map([
    ['/s/a.ts', ['/s/b.ts']],
    ['/s/b.ts', ['/s/c.ts']],
    ['/s/c.ts', ['/s/a.ts']],
    ['/s/d.ts', ['/s/a.ts']],
  ]);
  assert.equal(cycles(g).length, 1);
});
