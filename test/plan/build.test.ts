import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { iptablesEngine, renderRestore } from '../../src/engines/iptables.js';
import { lateTable, renderLateTable } from '../../src/engines/late.js';
import { nftablesEngine } from '../../src/engines/nftables.js';
import { resolveLab } from '../../src/lab/resolve.js';
import { mappingsFor, planDown, planUp } from '../../src/plan/build.js';
import { commandFor } from '../../src/plan/command.js';
import type { Op, OpKind } from '../../src/plan/ops.js';
import { argvOf, stdinOf } from '../engines/ops.js';
import { at, referenceLab, TWO_FLOWS_LAB } from '../support/labs.js';

type OpOf<K extends OpKind> = Extract<Op, { kind: K }>;

function ofKind<K extends OpKind>(ops: readonly Op[], kind: K): OpOf<K>[] {
  return ops.filter((op): op is OpOf<K> => op.kind === kind);
}

/** Namespaces an op touches (its own, and a veth peer's). */
function touched(op: Op): string[] {
  return op.kind === 'vethAdd' ? [op.netns, op.peerNetns] : [op.netns];
}

describe('planUp for the reference lab', () => {
  const lab = referenceLab();
  const ops = planUp(lab, iptablesEngine);

  it('creates each namespace before any other op touches it', () => {
    for (const node of lab.nodes) {
      const add = ops.findIndex((op) => op.kind === 'netnsAdd' && op.netns === node.netns);
      const first = ops.findIndex((op) => touched(op).includes(node.netns));
      assert.ok(add >= 0, `netnsAdd ${node.netns}`);
      assert.equal(first, add, `first op touching ${node.netns} is its netnsAdd`);
    }
    assert.deepEqual(
      ofKind(ops, 'netnsAdd').map((op) => op.netns),
      ['A', 'B', 'C', 'D'],
    );
    assert.deepEqual(at(ops, 0), { kind: 'netnsAdd', netns: 'A' });
  });

  it('brings lo up in every namespace, marked flowmig:default, right after creating it', () => {
    for (const node of lab.nodes) {
      const add = ops.findIndex((op) => op.kind === 'netnsAdd' && op.netns === node.netns);
      assert.deepEqual(ops[add + 1], {
        kind: 'loopbackUp',
        netns: node.netns,
        mark: 'flowmig:default',
      });
    }
    assert.equal(ofKind(ops, 'loopbackUp').length, 4);
  });

  it('turns DAD off everywhere and forwarding on in the translator only', () => {
    const sysctls = ofKind(ops, 'sysctl');
    assert.deepEqual(
      sysctls.map((op) => op.netns),
      ['A', 'B', 'C', 'D'],
    );
    for (const op of sysctls) {
      assert.equal(op.settings['net.ipv6.conf.all.accept_dad'], '0');
      assert.equal(op.settings['net.ipv6.conf.default.accept_dad'], '0');
      assert.equal(
        op.settings['net.ipv6.conf.all.forwarding'],
        op.netns === 'B' ? '1' : undefined,
        `forwarding in ${op.netns}`,
      );
    }
  });

  it('sets the sysctls of a namespace before its links exist (so link-local addresses skip DAD)', () => {
    for (const node of lab.nodes) {
      const sysctl = ops.findIndex((op) => op.kind === 'sysctl' && op.netns === node.netns);
      const veth = ops.findIndex((op) => op.kind === 'vethAdd' && touched(op).includes(node.netns));
      assert.ok(sysctl >= 0 && veth > sysctl, node.name);
    }
  });

  it('creates each veth in the node namespace with its peer in the translator', () => {
    assert.deepEqual(ofKind(ops, 'vethAdd'), [
      { kind: 'vethAdd', netns: 'A', name: 'A-B', peerNetns: 'B', peerName: 'B-A' },
      { kind: 'vethAdd', netns: 'C', name: 'C-B', peerNetns: 'B', peerName: 'B-C' },
      { kind: 'vethAdd', netns: 'D', name: 'D-B', peerNetns: 'B', peerName: 'B-D' },
    ]);
  });

  it('adds the addresses on both ends', () => {
    assert.deepEqual(
      ofKind(ops, 'addrAdd').map((op) => [op.netns, op.dev, op.cidr]),
      [
        ['A', 'A-B', 'fc00::1/64'],
        ['B', 'B-A', 'fc00::2/64'],
        ['C', 'C-B', 'fc01::1/64'],
        ['B', 'B-C', 'fc01::2/64'],
        ['D', 'D-B', 'fc02::2/64'],
        ['B', 'B-D', 'fc02::1/64'],
      ],
    );
  });

  it('configures and brings up each interface only after its veth exists', () => {
    for (const op of ops) {
      if (op.kind !== 'addrAdd' && op.kind !== 'linkUp') continue;
      const i = ops.indexOf(op);
      const veth = ops.findIndex(
        (v) =>
          v.kind === 'vethAdd' &&
          ((v.netns === op.netns && v.name === op.dev) ||
            (v.peerNetns === op.netns && v.peerName === op.dev)),
      );
      assert.ok(veth >= 0 && veth < i, `${op.kind} ${op.netns}/${op.dev}`);
    }
    assert.deepEqual(
      ofKind(ops, 'linkUp').map((op) => `${op.netns}/${op.dev}`),
      ['A/A-B', 'B/B-A', 'C/C-B', 'B/B-C', 'D/D-B', 'B/B-D'],
    );
  });

  it('adds the default routes via the translator addresses, after address and link are up', () => {
    const routes = ofKind(ops, 'routeAdd');
    assert.deepEqual(routes, [
      { kind: 'routeAdd', netns: 'A', to: 'default', via: 'fc00::2', dev: 'A-B' },
      { kind: 'routeAdd', netns: 'C', to: 'default', via: 'fc01::2', dev: 'C-B' },
      { kind: 'routeAdd', netns: 'D', to: 'default', via: 'fc02::1', dev: 'D-B' },
    ]);
    for (const route of routes) {
      const i = ops.indexOf(route);
      const addr = ops.findIndex(
        (op) => op.kind === 'addrAdd' && op.netns === route.netns && op.dev === route.dev,
      );
      const up = ops.findIndex(
        (op) => op.kind === 'linkUp' && op.netns === route.netns && op.dev === route.dev,
      );
      assert.ok(addr >= 0 && addr < i && up >= 0 && up < i, route.netns);
    }
  });

  const mappings = [
    { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: 'fc01::1' },
  ];

  it("installs the engine's table in B, hooks and mapping fe00::1 → fc01::1 included", () => {
    const install = at(ops, ops.length - 2);
    assert.deepEqual(install, iptablesEngine.install('B', mappings));
    assert.equal(install.kind, 'netfilterApply');
    if (install.kind !== 'netfilterApply') return;
    assert.equal(install.netns, 'B');
    assert.deepEqual(argvOf(install), ['ip6tables-restore', '-w', '--noflush']);
    assert.equal(stdinOf(install), renderRestore(mappings, true));
    assert.match(stdinOf(install), /^-A PREROUTING -j FLOWMIG-DNAT$/m);
  });

  it('ends with the late-packet table in B, naming fe00::1’s initiator', () => {
    const last = at(ops, ops.length - 1);
    assert.deepEqual(last, lateTable.install('B', mappings));
    assert.equal(last.kind, 'netfilterApply');
    if (last.kind !== 'netfilterApply') return;
    assert.equal(last.netns, 'B');
    assert.deepEqual(argvOf(last), ['nft', '-f', '-']);
    assert.equal(
      stdinOf(last),
      `${renderLateTable()}\nadd element ip6 flowmig_late initiator_of { fe00::1 : fc00::1 }\n`,
    );
  });

  it('has two netfilter transactions (the engine’s, then the late table’s) and no conntrack change', () => {
    assert.equal(ofKind(ops, 'netfilterApply').length, 2);
    assert.equal(ofKind(ops, 'conntrackDelete').length, 0);
    assert.equal(ofKind(ops, 'netnsDelete').length, 0);
    // 4 nodes × (add, lo, sysctl) + 3 links × (veth, 2 addr, 2 up) + 3 routes + 2 installs.
    assert.equal(ops.length, 12 + 15 + 3 + 2);
  });

  it('with the nftables engine: its table, then the late table, both nft in B', () => {
    const nft = planUp(lab, nftablesEngine);
    assert.deepEqual(nft.slice(0, -2), ops.slice(0, -2), 'the same lab before the tables');
    assert.deepEqual(nft.slice(-2), [
      nftablesEngine.install('B', mappings),
      lateTable.install('B', mappings),
    ]);
  });

  it('renders planned ops to the exact argv, in the right namespace', () => {
    const find = (pred: (op: Op) => boolean) => {
      const op = ops.find(pred);
      assert.ok(op);
      return commandFor(op);
    };
    assert.deepEqual(commandFor(at(ops, 0)), { argv: ['ip', 'netns', 'add', 'A'] });
    assert.deepEqual(commandFor(at(ops, 1)), {
      argv: ['ip', 'link', 'set', 'dev', 'lo', 'up', 'alias', 'flowmig:default'],
      netns: 'A',
    });
    assert.deepEqual(
      find((op) => op.kind === 'sysctl' && op.netns === 'B'),
      {
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
    );
    assert.deepEqual(
      find((op) => op.kind === 'vethAdd' && op.netns === 'D'),
      {
        argv: ['ip', 'link', 'add', 'D-B', 'type', 'veth', 'peer', 'name', 'B-D', 'netns', 'B'],
        netns: 'D',
      },
    );
    assert.deepEqual(
      find((op) => op.kind === 'addrAdd' && op.netns === 'B' && op.dev === 'B-C'),
      { argv: ['ip', '-6', 'addr', 'add', 'fc01::2/64', 'dev', 'B-C', 'nodad'], netns: 'B' },
    );
    assert.deepEqual(
      find((op) => op.kind === 'routeAdd' && op.netns === 'D'),
      { argv: ['ip', '-6', 'route', 'add', 'default', 'via', 'fc02::1', 'dev', 'D-B'], netns: 'D' },
    );
    const install = commandFor(at(ops, ops.length - 2));
    assert.deepEqual(install.argv, ['ip6tables-restore', '-w', '--noflush']);
    assert.equal(install.netns, 'B');
    assert.match(
      install.stdin ?? '',
      /^-A FLOWMIG-DNAT -s fc00::1\/128 -d fe00::1\/128 -j DNAT --to-destination fc01::1$/m,
    );
    const late = commandFor(at(ops, ops.length - 1));
    assert.deepEqual(late.argv, ['nft', '-f', '-']);
    assert.equal(late.netns, 'B');
    assert.match(late.stdin ?? '', /^table ip6 flowmig_late \{$/m);
  });

  it('every op turns into an argv of separate, space-free strings', () => {
    for (const op of ops) {
      const { argv } = commandFor(op);
      assert.ok(Array.isArray(argv) && argv.length > 1, JSON.stringify(op));
      for (const arg of argv) {
        assert.equal(typeof arg, 'string');
        assert.ok(arg.length > 0, `empty argument in ${argv.join(' ')}`);
        assert.doesNotMatch(arg, /\s/, `argument with whitespace in ${JSON.stringify(argv)}`);
      }
    }
  });
});

describe('planUp with a prefix', () => {
  const lab = referenceLab({ prefix: 't1-' });
  const ops = planUp(lab, iptablesEngine);

  it('uses prefixed namespaces everywhere and marks them flowmig:t1-default', () => {
    const namespaces = new Set(ops.flatMap(touched));
    assert.deepEqual([...namespaces].sort(), ['t1-A', 't1-B', 't1-C', 't1-D']);
    for (const op of ofKind(ops, 'loopbackUp')) assert.equal(op.mark, 'flowmig:t1-default');
    assert.equal(at(ops, ops.length - 1).netns, 't1-B');
  });

  it('keeps the interface names unprefixed', () => {
    assert.deepEqual(
      ofKind(ops, 'vethAdd').map((op) => [op.name, op.peerName]),
      [
        ['A-B', 'B-A'],
        ['C-B', 'B-C'],
        ['D-B', 'B-D'],
      ],
    );
  });
});

describe('mappingsFor', () => {
  it('maps each flow to its initiator and responder concrete addresses', () => {
    const lab = resolveLab(TWO_FLOWS_LAB);
    assert.deepEqual(mappingsFor(lab, lab.flows), [
      { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: 'fc01::1' },
      { address: 'fe00::2', initiatorAddress: 'fc00::1', responderAddress: 'fc02::2' },
    ]);
  });

  it('follows the given assignments, not the described ones', () => {
    const lab = referenceLab();
    const moved = lab.flows.map((f) => ({ ...f, responder: 'D' }));
    assert.equal(mappingsFor(lab, moved)[0]?.responderAddress, 'fc02::2');
  });

  it('installs every flow of a two-flow lab in the one engine transaction', () => {
    const lab = resolveLab(TWO_FLOWS_LAB);
    const ops = planUp(lab, iptablesEngine);
    const [install, late] = ofKind(ops, 'netfilterApply');
    assert.ok(install && late);
    assert.match(
      stdinOf(install),
      /-s fc00::1\/128 -d fe00::1\/128 -j DNAT --to-destination fc01::1$/m,
    );
    assert.match(
      stdinOf(install),
      /-s fc00::1\/128 -d fe00::2\/128 -j DNAT --to-destination fc02::2$/m,
    );
    assert.match(
      stdinOf(late),
      /^add element ip6 flowmig_late initiator_of \{ fe00::1 : fc00::1, fe00::2 : fc00::1 \}$/m,
    );
  });
});

describe('planDown', () => {
  it('deletes the namespaces in reverse order of creation', () => {
    assert.deepEqual(planDown(['A', 'B', 'C', 'D']), [
      { kind: 'netnsDelete', netns: 'D' },
      { kind: 'netnsDelete', netns: 'C' },
      { kind: 'netnsDelete', netns: 'B' },
      { kind: 'netnsDelete', netns: 'A' },
    ]);
  });

  it('leaves its input alone and plans nothing for nothing', () => {
    const names = ['t1-A', 't1-B'];
    planDown(names);
    assert.deepEqual(names, ['t1-A', 't1-B']);
    assert.deepEqual(planDown([]), []);
  });

  it('deletes exactly what planUp created', () => {
    const ops = planUp(referenceLab({ prefix: 't1-' }), iptablesEngine);
    const created = ofKind(ops, 'netnsAdd').map((op) => op.netns);
    assert.deepEqual(
      planDown(created)
        .map((op) => op.netns)
        .sort(),
      [...created].sort(),
    );
  });
});
