// A run's id and the default name of its results directory: one stamp, taken once.
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { defaultResultsDir, runId } from '../../src/experiment/run-id.js';

describe('runId and defaultResultsDir', () => {
  it('stamps the id once; the default directory is named with it', () => {
    const at = new Date('2026-12-07T08:32:10.999Z');
    const id = runId('fm1-default', at);
    assert.equal(id, '20261207T083210Z-fm1-default');
    assert.equal(runId('fm1-default', at, 'demo'), '20261207T083210Z-demo-fm1-default');
    assert.equal(basename(defaultResultsDir(id)), id);
    assert.equal(defaultResultsDir(id, '/tmp/mine'), '/tmp/mine', '--out wins');
  });
});
