/** Scratch directories for tests, removed afterwards whatever happens. */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

// Retries cover a child that is still letting go of a file it wrote as the removal starts.
const REMOVE = { recursive: true, force: true, maxRetries: 5, retryDelay: 50 } as const;

export async function withTmp<T>(fn: (dir: string) => Promise<T>, prefix = 'xenmig-test-'): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, REMOVE);
  }
}

/**
 * A scratch directory removed when test `t` ends, pass or fail. The removal runs after
 * the test function has settled, so await every child process that writes into it first.
 */
export function tmpDirFor(t: TestContext, prefix = 'xenmig-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, REMOVE));
  return dir;
}
