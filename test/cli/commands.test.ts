import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROMPT_HELP, type PromptCommand, parsePromptLine } from '../../src/cli/commands.js';

describe('parsePromptLine', () => {
  const valid: [string, PromptCommand][] = [
    ['swap', { kind: 'swap', flow: undefined }],
    ['swap fe00::1', { kind: 'swap', flow: 'fe00::1' }],
    ['  swap   web  ', { kind: 'swap', flow: 'web' }],
    ['swap\tfe00::2', { kind: 'swap', flow: 'fe00::2' }],
    ['swap\r', { kind: 'swap', flow: undefined }],
    ['migrate fe00::1 D', { kind: 'migrate', flow: 'fe00::1', node: 'D' }],
    ['  migrate  web   A ', { kind: 'migrate', flow: 'web', node: 'A' }],
    ['status', { kind: 'status' }],
    ['flows', { kind: 'flows' }],
    ['help', { kind: 'help' }],
    ['?', { kind: 'help' }],
    ['quit', { kind: 'quit' }],
    ['exit', { kind: 'quit' }],
    [' quit ', { kind: 'quit' }],
    ['', { kind: 'empty' }],
    ['   ', { kind: 'empty' }],
    ['\t \t', { kind: 'empty' }],
  ];
  for (const [line, command] of valid) {
    it(`${JSON.stringify(line)} → ${command.kind}`, () => {
      assert.deepEqual(parsePromptLine(line), command);
    });
  }

  const usage: [string, string][] = [
    ['swap fe00::1 fe00::2', 'usage: swap [FLOW]'],
    ['migrate', 'usage: migrate FLOW NODE'],
    ['migrate fe00::1', 'usage: migrate FLOW NODE'],
    ['migrate fe00::1 D C', 'usage: migrate FLOW NODE'],
    ['status now', 'usage: status'],
    ['flows all', 'usage: flows'],
    ['help swap', 'usage: help'],
    ['quit now', 'usage: quit'],
    ['exit 1', 'usage: exit'],
  ];
  for (const [line, message] of usage) {
    it(`${JSON.stringify(line)} → invalid, ${message}`, () => {
      assert.deepEqual(parsePromptLine(line), { kind: 'invalid', message });
    });
  }

  // The reference script counted any line as `swap`; flowmig must not.
  const unknown: [string, string][] = [
    ['swapx', 'swapx'],
    ['swap;', 'swap;'],
    ['SWAP', 'SWAP'],
    ['Swap fe00::1', 'Swap'],
    ['1', '1'],
    ['0', '0'],
    ['rm -rf /', 'rm'],
    ['y', 'y'],
    ['-eq', '-eq'],
    ['stat', 'stat'],
    ['migrate-fe00::1', 'migrate-fe00::1'],
  ];
  for (const [line, word] of unknown) {
    it(`${JSON.stringify(line)} is unknown and changes nothing`, () => {
      const command = parsePromptLine(line);
      assert.equal(command.kind, 'invalid');
      if (command.kind !== 'invalid') return;
      assert.equal(
        command.message,
        `unknown command '${word}' (type 'help' for the commands); nothing changed`,
      );
    });
  }

  it('cuts a very long unknown word to 40 characters in the message', () => {
    const command = parsePromptLine('x'.repeat(500));
    assert.equal(command.kind, 'invalid');
    if (command.kind !== 'invalid') return;
    assert.ok(command.message.includes(`'${'x'.repeat(40)}'`));
    assert.ok(!command.message.includes('x'.repeat(41)));
    assert.match(command.message, /nothing changed$/);
  });

  it('the help text names every command', () => {
    for (const verb of ['swap', 'migrate', 'status', 'flows', 'help', 'quit']) {
      assert.match(PROMPT_HELP, new RegExp(`^${verb}\\b`, 'm'), verb);
    }
  });
});
