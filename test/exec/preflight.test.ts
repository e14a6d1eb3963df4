import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { FlowmigError } from '../../src/errors.js';
import { PACKAGE_OF, requirePrograms } from '../../src/exec/preflight.js';
import { removeDir, tempDir } from '../support/tmp.js';

describe('requirePrograms', () => {
  const savedPath = process.env.PATH;
  let bin = '';

  before(async () => {
    bin = await tempDir('bin');
    await writeFile(join(bin, 'conntrack'), '#!/bin/sh\n');
    await chmod(join(bin, 'conntrack'), 0o755);
    await writeFile(join(bin, 'nft'), 'not executable');
    await chmod(join(bin, 'nft'), 0o644);
  });
  after(async () => {
    await removeDir(bin);
  });
  afterEach(() => {
    process.env.PATH = savedPath;
  });

  it('passes when every program is an executable on PATH', async () => {
    process.env.PATH = `/nonexistent-dir::${bin}`;
    await requirePrograms(['conntrack', 'conntrack']);
  });

  it('names each missing program with its Debian package', async () => {
    process.env.PATH = bin;
    await assert.rejects(
      requirePrograms(['conntrack', 'nft', 'ip', 'flowmig-xyz']),
      (error: unknown) => {
        assert.ok(error instanceof FlowmigError);
        assert.equal(
          error.message,
          "missing program(s): nft (Debian package nftables), ip (Debian package iproute2), flowmig-xyz (Debian package unknown); install them or run 'npm run setup'",
        );
        return true;
      },
    );
  });

  it('knows the package of every program flowmig runs', () => {
    for (const p of ['ip', 'sysctl', 'conntrack', 'ip6tables-restore', 'ip6tables-save', 'ping']) {
      assert.ok(PACKAGE_OF[p], p);
    }
  });
});
