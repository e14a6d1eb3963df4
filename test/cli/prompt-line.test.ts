import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROMPT_HELP, type PromptCommand, parsePromptLine } from '../../src/cli/prompt-line.js';

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
    ['evacuate C D', { kind: 'evacuate', from: 'C', to: 'D' }],
    ['  evacuate   D  C ', { kind: 'evacuate', from: 'D', to: 'C' }],
    ['reconcile', { kind: 'reconcile' }],
    // Left out, port and mode are the controller's defaults (5555, echo), as for `flowmig serve`.
    ['serve', { kind: 'serve', nodes: [], port: undefined, mode: undefined }],
    ['serve C', { kind: 'serve', nodes: ['C'], port: undefined, mode: undefined }],
    [
      'serve C D --port 6000 --mode stream',
      { kind: 'serve', nodes: ['C', 'D'], port: 6000, mode: 'stream' },
    ],
    ['serve --port=7000 C', { kind: 'serve', nodes: ['C'], port: 7000, mode: undefined }],
    ['serve -p 1 --mode=echo', { kind: 'serve', nodes: [], port: 1, mode: 'echo' }],
    ['serve --mode stream --port 65535', { kind: 'serve', nodes: [], port: 65535, mode: 'stream' }],
    ['serve --stop', { kind: 'unserve', nodes: [] }],
    ['serve --stop C', { kind: 'unserve', nodes: ['C'] }],
    ['serve C --stop D', { kind: 'unserve', nodes: ['C', 'D'] }],
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
    ['evacuate', 'usage: evacuate FROM TO'],
    ['evacuate C', 'usage: evacuate FROM TO'],
    ['evacuate C D E', 'usage: evacuate FROM TO'],
    ['reconcile now', 'usage: reconcile'],
    ...(
      [
        ['serve --port', 'serve: --port needs a value'],
        ['serve --port 0', "serve: bad port '0' (1-65535)"],
        ['serve --port 65536', "serve: bad port '65536' (1-65535)"],
        ['serve --port=x', "serve: bad port 'x' (1-65535)"],
        ['serve -p 1.5', "serve: bad port '1.5' (1-65535)"],
        ['serve --mode', 'serve: --mode needs a value'],
        ['serve --mode chat', "serve: bad mode 'chat' (echo or stream)"],
        ['serve --colour red', "serve: unknown option '--colour'"],
        ['serve --stop --port 6000', 'serve: --stop takes no --port or --mode'],
        ['serve --stop --mode=echo', 'serve: --stop takes no --port or --mode'],
      ] as const
    ).map(([line, problem]): [string, string] => [
      line,
      `${problem}; usage: serve [NODES...] [--port N] [--mode echo|stream], serve --stop [NODES...]`,
    ]),
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
    for (const verb of [
      'swap',
      'migrate',
      'evacuate',
      'reconcile',
      'serve',
      'status',
      'flows',
      'help',
      'quit',
    ]) {
      assert.match(PROMPT_HELP, new RegExp(`^${verb}\\b`, 'm'), verb);
    }
  });
});
