// Temporary directories for tests that touch the file system; removed by the caller's cleanup.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function tempDir(tag: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `flowmig-unit-${tag}-`));
}

export async function removeDir(dir: string): Promise<void> {
  if (dir !== '') await rm(dir, { recursive: true, force: true });
}
