import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandError, FlowmigError, InputError } from '../src/errors.js';

describe('FlowmigError', () => {
  it('exits 1 by default and keeps its cause', () => {
    const cause = new Error('inner');
    const error = new FlowmigError('lab t1-default is busy', { cause });
    assert.equal(error.exitCode, 1);
    assert.equal(error.cause, cause);
    assert.equal(error.name, 'FlowmigError');
    assert.equal(new FlowmigError('x', { exitCode: 3 }).exitCode, 3);
    assert.ok(!('cause' in new FlowmigError('x')));
  });
});

describe('InputError', () => {
  it('joins the problems after the context, exits 2', () => {
    const error = new InputError('lab file x.yaml', ['a is bad', 'b is worse']);
    assert.equal(error.message, 'lab file x.yaml: a is bad; b is worse');
    assert.deepEqual(error.problems, ['a is bad', 'b is worse']);
    assert.equal(error.exitCode, 2);
    assert.ok(error instanceof FlowmigError);
  });

  it('without a context the problems speak for themselves', () => {
    assert.equal(new InputError('', ["unknown node 'Z'"]).message, "unknown node 'Z'");
  });
});

describe('CommandError', () => {
  it('says which command failed, where, and the first line of stderr', () => {
    const error = new CommandError({
      argv: ['ip', 'link', 'add', 'A-B'],
      netns: 't1-A',
      exitCode: 2,
      stderr: '\n  RTNETLINK answers: File exists  \nmore\n',
    });
    assert.equal(
      error.message,
      'ip link add A-B (in namespace t1-A) failed: RTNETLINK answers: File exists',
    );
    assert.equal(error.commandExitCode, 2);
    assert.equal(error.exitCode, 1);
    assert.equal(error.signal, null);
    assert.ok(error instanceof FlowmigError);
  });

  it('falls back to the signal, then to the exit code', () => {
    assert.match(
      new CommandError({ argv: ['sleep', '5'], exitCode: null, signal: 'SIGKILL', stderr: '' })
        .message,
      /^sleep 5 failed: killed by SIGKILL$/,
    );
    assert.match(
      new CommandError({ argv: ['false'], exitCode: 1, stderr: ' \n' }).message,
      /^false failed: exit code 1$/,
    );
  });

  const classified: [string, boolean, boolean][] = [
    ['Cannot find device "A-B"', true, false],
    ['Cannot remove namespace file "/run/netns/x": No such file or directory', true, false],
    ['Error: Peer netns reference is invalid. Network namespace does not exist', true, false],
    ['ip6tables: Chain not found', true, false],
    ['RTNETLINK answers: File exists', false, true],
    ['Cannot create namespace file "/run/netns/A": File exists', false, true],
    ['Error: object already exists', false, true],
    ['Operation not permitted', false, false],
  ];
  for (const [stderr, notFound, exists] of classified) {
    it(`classifies "${stderr}"`, () => {
      const error = new CommandError({ argv: ['ip'], exitCode: 1, stderr });
      assert.equal(error.isNotFound, notFound);
      assert.equal(error.isExists, exists);
      assert.equal(error.isMissingProgram, false);
    });
  }

  it('isMissingProgram only for a spawn ENOENT cause', () => {
    const cause = Object.assign(new Error('spawn nft ENOENT'), { code: 'ENOENT' });
    assert.equal(
      new CommandError({ argv: ['nft'], exitCode: null, stderr: cause.message, cause })
        .isMissingProgram,
      true,
    );
  });
});
