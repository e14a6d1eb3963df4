import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Command, commandFor } from '../../src/plan/command.js';
import { describeOp, type Op } from '../../src/plan/ops.js';

const CASES: readonly { readonly op: Op; readonly command: Command; readonly text: RegExp }[] = [
  {
    op: { kind: 'netnsAdd', netns: 't1-A' },
    command: { argv: ['ip', 'netns', 'add', 't1-A'] },
    text: /^create namespace t1-A$/,
  },
  {
    op: { kind: 'netnsDelete', netns: 't1-A' },
    command: { argv: ['ip', 'netns', 'delete', 't1-A'] },
    text: /^delete namespace t1-A$/,
  },
  {
    op: { kind: 'loopbackUp', netns: 'A', mark: 'flowmig:default' },
    command: {
      argv: ['ip', 'link', 'set', 'dev', 'lo', 'up', 'alias', 'flowmig:default'],
      netns: 'A',
    },
    text: /^A: lo up, mark flowmig:default$/,
  },
  {
    op: {
      kind: 'sysctl',
      netns: 'B',
      settings: {
        'net.ipv6.conf.all.accept_dad': '0',
        'net.ipv6.conf.default.accept_dad': '0',
        'net.ipv6.conf.all.forwarding': '1',
      },
    },
    command: {
      argv: [
        'sysctl',
        '-q',
        '-w',
        'net.ipv6.conf.all.accept_dad=0',
        'net.ipv6.conf.default.accept_dad=0',
        'net.ipv6.conf.all.forwarding=1',
      ],
      netns: 'B',
    },
    text: /^B: sysctl .*net\.ipv6\.conf\.all\.forwarding=1$/,
  },
  {
    op: { kind: 'vethAdd', netns: 'A', name: 'A-B', peerNetns: 'B', peerName: 'B-A' },
    command: {
      argv: ['ip', 'link', 'add', 'A-B', 'type', 'veth', 'peer', 'name', 'B-A', 'netns', 'B'],
      netns: 'A',
    },
    text: /^veth A\/A-B – B\/B-A$/,
  },
  {
    op: { kind: 'linkUp', netns: 'B', dev: 'B-A' },
    command: { argv: ['ip', 'link', 'set', 'dev', 'B-A', 'up'], netns: 'B' },
    text: /^B: B-A up$/,
  },
  {
    op: { kind: 'bridgeAdd', netns: 't1-fab', name: 'br0' },
    command: { argv: ['ip', 'link', 'add', 'name', 'br0', 'type', 'bridge'], netns: 't1-fab' },
    text: /^t1-fab: bridge br0$/,
  },
  {
    op: { kind: 'linkMaster', netns: 't1-fab', dev: 'fab-T1', master: 'br0' },
    command: { argv: ['ip', 'link', 'set', 'dev', 'fab-T1', 'master', 'br0'], netns: 't1-fab' },
    text: /^t1-fab: fab-T1 into bridge br0$/,
  },
  {
    op: { kind: 'addrAdd', netns: 'A', dev: 'A-B', cidr: 'fc00::1/64' },
    command: { argv: ['ip', '-6', 'addr', 'add', 'fc00::1/64', 'dev', 'A-B', 'nodad'], netns: 'A' },
    text: /^A: fc00::1\/64 on A-B$/,
  },
  {
    op: { kind: 'routeAdd', netns: 'A', to: 'default', via: 'fc00::2', dev: 'A-B' },
    command: {
      argv: ['ip', '-6', 'route', 'add', 'default', 'via', 'fc00::2', 'dev', 'A-B'],
      netns: 'A',
    },
    text: /^A: route default via fc00::2$/,
  },
  {
    op: {
      kind: 'netfilterApply',
      netns: 'B',
      argv: ['ip6tables-restore', '-w', '--noflush'],
      stdin: '*nat\nCOMMIT\n',
      summary: 'ip6tables: set fe00::1→fc02::2',
    },
    command: {
      argv: ['ip6tables-restore', '-w', '--noflush'],
      netns: 'B',
      stdin: '*nat\nCOMMIT\n',
    },
    text: /^B: ip6tables: set fe00::1→fc02::2$/,
  },
  {
    op: { kind: 'conntrackDelete', netns: 'B', origDst: 'fe00::1' },
    command: {
      argv: ['conntrack', '-D', '-f', 'ipv6', '--orig-dst', 'fe00::1'],
      netns: 'B',
      okExitCodes: [0, 1],
    },
    text: /^B: delete conntrack entries to fe00::1$/,
  },
];

describe('commandFor', () => {
  for (const c of CASES) {
    it(`${c.op.kind} → ${c.command.argv.join(' ')}`, () => {
      assert.deepEqual(commandFor(c.op), c.command);
    });
  }

  it('deletes conntrack entries by original destination only (never flushes the table)', () => {
    const { argv } = commandFor({ kind: 'conntrackDelete', netns: 'B', origDst: 'fe00::2' });
    assert.ok(!argv.includes('-F'));
    assert.deepEqual(argv.slice(-2), ['--orig-dst', 'fe00::2']);
  });

  it('passes a hostile-looking name as one argument, untouched', () => {
    const { argv } = commandFor({ kind: 'netnsAdd', netns: 'x; rm -rf /' });
    assert.deepEqual(argv, ['ip', 'netns', 'add', 'x; rm -rf /']);
  });
});

describe('describeOp', () => {
  for (const c of CASES) {
    it(`describes ${c.op.kind} in one line`, () => {
      const text = describeOp(c.op);
      assert.match(text, c.text);
      assert.ok(!text.includes('\n'));
    });
  }
});
