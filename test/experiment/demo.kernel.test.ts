// `flowmig demo` end to end: real ping -i 0.00001 across 200 swaps, verdict, JSON, and teardown.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { DemoResult } from '../../src/experiment/demo.js';
import {
  cli,
  namespacesWith,
  removeNamespacesWith,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

describe('flowmig demo', () => {
  it('ping -i 0.00001 across 200 swaps: no error, both servers reached, loss measured, TCP breaks', async () => {
    const prefix = uniquePrefix();
    const stateDir = await tempStateDir();
    try {
      const r = await cli(
        ['demo', '--prefix', prefix, '--swaps', '200', '--json', '--out', join(stateDir, 'out')],
        { stateDir, timeoutMs: 300_000 },
      );
      assert.equal(r.code, 0, r.stderr);
      const result = JSON.parse(r.stdout) as DemoResult;
      const s = result.ping.summary;
      assert.equal(result.swaps.done, 200);
      assert.equal(s.errors, 0, 'ping reported no error');
      assert.deepEqual(result.ping.errorLines, [], 'ping printed no error line');
      assert.ok(s.transmitted > 10_000, `a high rate (${s.transmitted} sent)`);
      assert.ok((result.reached.C ?? 0) > 0 && (result.reached.D ?? 0) > 0, 'C and D received');
      // Every request reached a server: requests are never lost, only replies in flight.
      assert.equal((result.reached.C ?? 0) + (result.reached.D ?? 0), s.transmitted);
      assert.equal(result.ping.lost, s.transmitted - s.received);
      assert.ok(result.swaps.controlMs.total.p50 > 0);
      assert.equal(result.tcp?.clientTerminated, true, 'the TCP client was terminated');
      assert.notEqual(result.tcp?.clientExitCode, 0);
      assert.ok(result.notes.some((n) => /TCP: the ncat client in A was terminated/.test(n)));
      assert.equal(result.verdict.ok, true, result.verdict.lines.join('; '));
      // A gap needs a request captured at the new server before the next swap: a sender or a
      // capture stalled longer than the swap period (a loaded machine) leaves one unmeasured now
      // and then. Measurement, not migration: as in the experiment's test, ≥ 99 % of swaps.
      assert.ok(
        result.swaps.gapMs.count >= 198,
        `${result.swaps.gapMs.count} of 200 migration gaps measured, from the captures`,
      );
      assert.equal(result.report.html, join(stateDir, 'out', 'report.html'));
      assert.ok(existsSync(result.report.html), 'the report was written');
      assert.deepEqual(await namespacesWith(prefix), [], 'the demo tore its lab down');
    } finally {
      await removeNamespacesWith(prefix);
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('prints a verdict table and progress as text', async () => {
    const prefix = uniquePrefix();
    const stateDir = await tempStateDir();
    try {
      const out = join(stateDir, 'out');
      const r = await cli(['demo', '--prefix', prefix, '--swaps', '10', '--no-tcp', '--out', out], {
        stateDir,
      });
      assert.equal(r.code, 0, r.stderr);
      for (const row of [
        /echo requests sent\s+[\d,]+/,
        /echo replies received\s+[\d,]+/,
        /errors reported by ping\s+0/,
        /echo requests that reached C\s+[\d,]+/,
        /echo requests that reached D\s+[\d,]+/,
        /swaps\s+10 of 10/,
        /VERDICT: PASS/,
        /migration gap p50 \/ p99 \/ max\s+[\d.]+ ms \/ [\d.]+ ms \/ [\d.]+ ms \(\d+ measured\)/,
        /swap issued → flow moved p50 \/ p99 \/ max\s+[\d.]+ ms \/ [\d.]+ ms \/ [\d.]+ ms/,
        /controller apply p50 \/ p99 \/ max\s+[\d.]+ ms \/ [\d.]+ ms \/ [\d.]+ ms/,
        new RegExp(`report: ${out}/report\\.html`),
      ]) {
        assert.match(r.stdout, row);
      }
      assert.match(r.stderr, /swap \d+\/10/, 'progress is shown while it runs');
      assert.deepEqual(await namespacesWith(prefix), []);
    } finally {
      await removeNamespacesWith(prefix);
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
