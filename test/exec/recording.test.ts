import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandError } from '../../src/errors.js';
import { RecordingRunner } from '../../src/exec/recording.js';
import { inNetns } from '../../src/exec/runner.js';

describe('inNetns', () => {
  it('leaves argv alone without a namespace', () => {
    assert.deepEqual(inNetns(['conntrack', '-L'], undefined), ['conntrack', '-L']);
  });

  it('uses `ip -n NS` for ip itself', () => {
    assert.deepEqual(inNetns(['ip', '-o', 'link', 'show'], 'B'), [
      'ip',
      '-n',
      'B',
      '-o',
      'link',
      'show',
    ]);
  });

  it('uses `ip netns exec NS` for any other program', () => {
    assert.deepEqual(inNetns(['conntrack', '-D'], 'B'), [
      'ip',
      'netns',
      'exec',
      'B',
      'conntrack',
      '-D',
    ]);
    assert.deepEqual(inNetns(['ip6tables-restore'], 't1-B'), [
      'ip',
      'netns',
      'exec',
      't1-B',
      'ip6tables-restore',
    ]);
  });
});

describe('RecordingRunner', () => {
  it('answers empty success by default and records the call', async () => {
    const runner = new RecordingRunner();
    assert.deepEqual(await runner.run(['sysctl', '-w', 'x=1'], { netns: 'A', stdin: 'in' }), {
      stdout: '',
      stderr: '',
      exitCode: 0,
    });
    assert.deepEqual(runner.calls, [
      {
        argv: ['sysctl', '-w', 'x=1'],
        netns: 'A',
        stdin: 'in',
        full: ['ip', 'netns', 'exec', 'A', 'sysctl', '-w', 'x=1'],
      },
    ]);
    assert.deepEqual(runner.lines(), ['ip netns exec A sysctl -w x=1']);
  });

  it('returns what the responder answers', async () => {
    const runner = new RecordingRunner(() => ({ stdout: 'A (id: 0)\n' }));
    assert.deepEqual(await runner.run(['ip', 'netns', 'list']), {
      stdout: 'A (id: 0)\n',
      stderr: '',
      exitCode: 0,
    });
  });

  it('turns a fail answer into a CommandError unless its exit code is allowed', async () => {
    const runner = new RecordingRunner(() => ({ fail: { exitCode: 1, stderr: 'nope\n' } }));
    await assert.rejects(runner.run(['false'], { netns: 'C' }), (error: unknown) => {
      assert.ok(error instanceof CommandError);
      assert.equal(error.commandExitCode, 1);
      assert.equal(error.netns, 'C');
      assert.equal(error.stderr, 'nope\n');
      return true;
    });
    assert.deepEqual(await runner.run(['false'], { okExitCodes: [0, 1] }), {
      stdout: '',
      stderr: 'nope\n',
      exitCode: 1,
    });
    assert.equal(runner.calls.length, 2);
  });
});
