import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  interfaceName,
  labId,
  MAX_IFNAME,
  netnsName,
  netnsNameProblem,
  ownershipMark,
  prefixProblem,
} from '../../src/lab/names.js';

describe('naming scheme', () => {
  it('names namespaces prefix + node and interfaces <self>-<peer>', () => {
    assert.equal(netnsName('', 'A'), 'A');
    assert.equal(netnsName('t1-', 'A'), 't1-A');
    assert.equal(interfaceName('A', 'B'), 'A-B');
  });

  it('two 7-character node names still fit IFNAMSIZ', () => {
    assert.ok(interfaceName('abcdefg', 'hijklmn').length <= MAX_IFNAME);
  });

  it('lab id and ownership mark', () => {
    assert.equal(labId('', 'default'), 'default');
    assert.equal(labId('t1-', 'default'), 't1-default');
    assert.equal(ownershipMark('t1-default'), 'flowmig:t1-default');
  });

  it('netnsNameProblem rejects long and unsafe namespace names', () => {
    assert.equal(netnsNameProblem('t1-A'), undefined);
    assert.equal(netnsNameProblem('x'.repeat(24)), undefined);
    assert.match(netnsNameProblem('x'.repeat(25)) ?? '', /longer than 24/);
    for (const bad of ['a;rm', '../x', 'a b', '-x', '.x', 'a/b', '']) {
      assert.match(netnsNameProblem(bad) ?? '', /may hold only/, bad);
    }
  });

  it('prefixProblem accepts the empty prefix and 1-16 safe characters only', () => {
    for (const ok of ['', 't1-', 'fm1-', 'a', 'x'.repeat(16), 'a.b_c-']) {
      assert.equal(prefixProblem(ok), undefined, ok);
    }
    for (const bad of ['-x', 'a/b', 'x'.repeat(17), 'a b', '../', 'a;', '.a']) {
      assert.match(prefixProblem(bad) ?? '', /must be 1-16 characters/, bad);
    }
  });
});
