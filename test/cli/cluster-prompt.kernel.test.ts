// `flowmig up -c examples/three-hosts.yaml` opens the prompt on the cluster it built: commands go
// through its host daemons, errors are answered in the prompt, `quit` tears it all down.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { assertClusterGone } from '../kernel-support/cluster-gone.js';
import {
  cli,
  ROOT,
  removeNamespacesWith,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

describe('the prompt on a cluster lab', () => {
  it('swap, migrate (and a refused one), status and flows through the host daemons; quit tears down', async () => {
    const prefix = uniquePrefix();
    const stateDir = await tempStateDir();
    const lab = `${prefix}three`;
    try {
      const file = join(ROOT, 'examples', 'three-hosts.yaml');
      const input = ['swap', 'migrate fe00::1 S3', 'migrate fe00::1 T2', 'flows', 'status', 'quit'];
      const r = await cli(['up', '-c', file, '--prefix', prefix], {
        stateDir,
        input: `${input.join('\n')}\n`,
        timeoutMs: 120_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`cluster lab ${lab} is up; type 'help' for commands`));
      assert.match(
        r.stdout,
        /flow fe00::1: S1 → S2\nrevision \d+: committed in [\d.]+ ms, applied by h1, h2, h3/,
      );
      assert.match(r.stdout, /flow fe00::1: S2 → S3\n/);
      assert.match(
        r.stdout,
        /error: 'T2' is a translator: a flow's responder is a server \(S1, S2, S3\), its initiator a client/,
      );
      // After the refused migration the flow is where the last one put it, on every host.
      assert.match(r.stdout, /fe00::1\s+-\s+A\s+S3\s/);
      assert.match(r.stdout, /h3\s+pid \d+\s+alive\s+\d+\s+0 \(in sync\)\s+S3:1/);
      assert.match(r.stdout, new RegExp(`cluster lab ${lab} torn down`));
      await assertClusterGone(prefix, lab, stateDir);
    } finally {
      await cli(['down', '--lab', lab], { stateDir }).catch(() => {});
      await removeNamespacesWith(prefix);
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
