import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlowmigError, InputError } from '../../src/errors.js';
import { REFERENCE_LAB } from '../../src/lab/default.js';
import { concreteAddress, nodeByName, servers } from '../../src/lab/model.js';
import { type ResolveOptions, resolveLab } from '../../src/lab/resolve.js';
import { assertInputError, referenceLab } from '../support/labs.js';

type Raw = Record<string, unknown>;
type Item = Record<string, unknown>;

const NODES: Item[] = [
  { name: 'A', role: 'client' },
  { name: 'B', role: 'translator' },
  { name: 'C', role: 'server' },
  { name: 'D', role: 'server' },
];
const LINKS: Item[] = [
  { node: 'A', address: 'fc00::1/64', translatorAddress: 'fc00::2/64' },
  { node: 'C', address: 'fc01::1/64', translatorAddress: 'fc01::2/64' },
  { node: 'D', address: 'fc02::2/64', translatorAddress: 'fc02::1/64' },
];
const FLOWS: Item[] = [{ address: 'fe00::1', initiator: 'A', responder: 'C' }];

/** The reference description as plain data, with top-level fields replaced. */
function raw(over: Raw = {}): Raw {
  return {
    name: 'default',
    engine: REFERENCE_LAB.engine,
    nodes: NODES,
    links: LINKS,
    flows: FLOWS,
    ...over,
  };
}

/** `items` with element `i` patched (or replaced when `patch` is a function). */
function patched(items: readonly Item[], i: number, patch: Item): Item[] {
  return items.map((item, j) => (j === i ? { ...item, ...patch } : item));
}

function without(item: Item, key: string): Item {
  const copy = { ...item };
  delete copy[key];
  return copy;
}

describe('resolveLab: the reference lab', () => {
  const lab = referenceLab();

  it('the hand-written plain copy used by these tests is the reference lab', () => {
    assert.deepEqual(resolveLab(raw()), lab);
  });

  it('has nodes A, B, C, D in namespaces A, B, C, D with their roles', () => {
    assert.deepEqual(lab.nodes, [
      { name: 'A', role: 'client', netns: 'A' },
      { name: 'B', role: 'translator', netns: 'B' },
      { name: 'C', role: 'server', netns: 'C' },
      { name: 'D', role: 'server', netns: 'D' },
    ]);
    assert.deepEqual(lab.translator, { name: 'B', role: 'translator', netns: 'B' });
    assert.deepEqual(
      servers(lab).map((n) => n.name),
      ['C', 'D'],
    );
  });

  it('names the lab default, no prefix, the nftables engine', () => {
    assert.equal(lab.name, 'default');
    assert.equal(lab.id, 'default');
    assert.equal(lab.prefix, '');
    assert.equal(lab.engine, 'nftables');
  });

  it('gives former responders the default grace of 5 s', () => {
    assert.equal(lab.description.graceSeconds, 5);
    assert.equal(lab.graceMs, 5000);
  });

  it('links every non-translator node to B with interfaces <node>-B and B-<node>', () => {
    assert.deepEqual(lab.links, [
      {
        node: 'A',
        nodeIf: 'A-B',
        translatorIf: 'B-A',
        address: { address: 'fc00::1', length: 64 },
        translatorAddress: { address: 'fc00::2', length: 64 },
      },
      {
        node: 'C',
        nodeIf: 'C-B',
        translatorIf: 'B-C',
        address: { address: 'fc01::1', length: 64 },
        translatorAddress: { address: 'fc01::2', length: 64 },
      },
      {
        node: 'D',
        nodeIf: 'D-B',
        translatorIf: 'B-D',
        address: { address: 'fc02::2', length: 64 },
        translatorAddress: { address: 'fc02::1', length: 64 },
      },
    ]);
  });

  it('gives A, C, D a default route via their translator address', () => {
    assert.deepEqual(lab.routes, [
      { node: 'A', to: 'default', via: 'fc00::2', dev: 'A-B' },
      { node: 'C', to: 'default', via: 'fc01::2', dev: 'C-B' },
      { node: 'D', to: 'default', via: 'fc02::1', dev: 'D-B' },
    ]);
  });

  it('has the one flow fe00::1 from A to C', () => {
    assert.deepEqual(lab.flows, [
      { name: undefined, address: 'fe00::1', initiator: 'A', responder: 'C' },
    ]);
  });

  it('model helpers find nodes and concrete addresses', () => {
    assert.equal(nodeByName(lab, 'C')?.netns, 'C');
    assert.equal(nodeByName(lab, 'Z'), undefined);
    assert.equal(concreteAddress(lab, 'D'), 'fc02::2');
    assert.equal(concreteAddress(lab, 'B'), undefined);
  });

  it('keeps the validated description with defaults filled in', () => {
    const { name: _name, engine: _engine, ...bare } = REFERENCE_LAB;
    const resolved = resolveLab(bare);
    assert.equal(resolved.description.name, 'default');
    assert.equal(resolved.description.engine, 'nftables');
    assert.equal(resolved.engine, 'nftables');
    assert.deepEqual(resolved.description.nodes, REFERENCE_LAB.nodes);
  });
});

describe('resolveLab: options', () => {
  it('a prefix prefixes every namespace and the lab id, not the interface names', () => {
    const lab = referenceLab({ prefix: 't1-' });
    assert.deepEqual(
      lab.nodes.map((n) => n.netns),
      ['t1-A', 't1-B', 't1-C', 't1-D'],
    );
    assert.equal(lab.translator.netns, 't1-B');
    assert.equal(lab.id, 't1-default');
    assert.equal(lab.prefix, 't1-');
    assert.equal(lab.name, 'default');
    assert.deepEqual(
      lab.links.map((l) => [l.nodeIf, l.translatorIf]),
      [
        ['A-B', 'B-A'],
        ['C-B', 'B-C'],
        ['D-B', 'B-D'],
      ],
    );
  });

  it('engine overrides the description engine', () => {
    const lab = referenceLab({ engine: 'iptables' });
    assert.equal(lab.engine, 'iptables');
    assert.equal(lab.description.engine, 'iptables');
    assert.equal(resolveLab(raw({ engine: 'iptables' })).engine, 'iptables');
  });

  const graces: [number, number][] = [
    [0, 0],
    [1, 1000],
    [2.5, 2500],
    [0.0004, 0],
    [0.0006, 1],
    [3600, 3_600_000],
  ];
  for (const [seconds, ms] of graces) {
    it(`graceSeconds ${seconds} is a grace of ${ms} ms`, () => {
      const lab = resolveLab(raw({ graceSeconds: seconds }));
      assert.equal(lab.graceMs, ms);
      assert.equal(lab.description.graceSeconds, seconds);
    });
  }

  it('a 16-character prefix is accepted', () => {
    const prefix = `${'p'.repeat(15)}-`;
    assert.equal(referenceLab({ prefix }).translator.netns, `${prefix}B`);
  });

  it('name overrides the description name and the id', () => {
    const lab = referenceLab({ name: 'exp2', prefix: 'x-' });
    assert.equal(lab.name, 'exp2');
    assert.equal(lab.id, 'x-exp2');
    assert.equal(lab.description.name, 'exp2');
  });

  it('source names where the description came from in errors', () => {
    assertInputError(
      () => resolveLab(raw({ name: 'bad name' }), { source: 'lab file /tmp/x.yaml' }),
      /^lab file \/tmp\/x\.yaml: /,
    );
    assertInputError(() => resolveLab(raw({ name: 'bad name' })), /^lab description: /);
  });
});

describe('resolveLab: canonical forms', () => {
  it('canonicalises addresses in links, routes and flows', () => {
    const lab = resolveLab(
      raw({
        links: patched(LINKS, 0, {
          address: 'FC00:0::1/64',
          translatorAddress: 'fc00:0:0:0::2/64',
        }),
        routes: [{ node: 'A', to: 'FD00:0::/64', via: 'FC00::2' }],
        flows: [{ address: 'FE00:0::1', initiator: 'A', responder: 'C' }],
      }),
    );
    assert.deepEqual(lab.links[0]?.address, { address: 'fc00::1', length: 64 });
    assert.deepEqual(lab.links[0]?.translatorAddress, { address: 'fc00::2', length: 64 });
    assert.deepEqual(lab.routes, [{ node: 'A', to: 'fd00::/64', via: 'fc00::2', dev: 'A-B' }]);
    assert.equal(lab.flows[0]?.address, 'fe00::1');
  });

  it('explicit routes replace the default ones', () => {
    const lab = resolveLab(raw({ routes: [{ node: 'C', to: 'default', via: 'fc01::2' }] }));
    assert.deepEqual(lab.routes, [{ node: 'C', to: 'default', via: 'fc01::2', dev: 'C-B' }]);
    assert.deepEqual(resolveLab(raw({ routes: [] })).routes, []);
  });

  it('keeps flow names', () => {
    const lab = resolveLab(raw({ flows: [{ ...FLOWS[0], name: 'web' }] }));
    assert.equal(lab.flows[0]?.name, 'web');
  });

  it('accepts 7-character node names (interface names stay within 15 characters)', () => {
    const lab = resolveLab({
      nodes: [
        { name: 'client1', role: 'client' },
        { name: 'transl1', role: 'translator' },
        { name: 'server1', role: 'server' },
      ],
      links: [
        { node: 'client1', address: 'fc00::1/64', translatorAddress: 'fc00::2/64' },
        { node: 'server1', address: 'fc01::1/64', translatorAddress: 'fc01::2/64' },
      ],
      flows: [{ address: 'fe00::1', initiator: 'client1', responder: 'server1' }],
    });
    assert.equal(lab.links[0]?.nodeIf, 'client1-transl1');
    assert.ok(lab.links.every((l) => l.nodeIf.length <= 15 && l.translatorIf.length <= 15));
  });
});

interface BadCase {
  readonly why: string;
  readonly input: unknown;
  readonly options?: ResolveOptions;
  /** Each must match the message and at least one problem. */
  readonly expect: readonly RegExp[];
}

const E_NODE = { name: 'E', role: 'client' };

const BAD: readonly BadCase[] = [
  // Shapes (zod).
  { why: 'not an object', input: 'just text', expect: [/\(top\): .*expected object/] },
  { why: 'null', input: null, expect: [/\(top\)/] },
  { why: 'an array', input: [], expect: [/\(top\)/] },
  { why: 'nodes missing', input: without(raw(), 'nodes'), expect: [/nodes: /] },
  { why: 'no nodes', input: raw({ nodes: [] }), expect: [/nodes: .*1/] },
  { why: 'nodes not a list', input: raw({ nodes: 'A,B' }), expect: [/nodes: .*array/] },
  { why: 'flows missing', input: without(raw(), 'flows'), expect: [/flows: /] },
  { why: 'links missing', input: without(raw(), 'links'), expect: [/links: /] },
  {
    why: 'unknown role',
    input: raw({ nodes: patched(NODES, 0, { role: 'router' }) }),
    expect: [/nodes\.0\.role: /],
  },
  {
    why: 'node name not a string',
    input: raw({ nodes: patched(NODES, 2, { name: 3 }) }),
    expect: [/nodes\.2\.name: .*string/],
  },
  {
    why: 'link without translatorAddress',
    input: raw({ links: [without(LINKS[0] ?? {}, 'translatorAddress'), ...LINKS.slice(1)] }),
    expect: [/links\.0\.translatorAddress: /],
  },
  { why: 'unknown engine', input: raw({ engine: 'pf' }), expect: [/engine: /] },
  { why: 'negative grace', input: raw({ graceSeconds: -1 }), expect: [/graceSeconds: /] },
  { why: 'grace over an hour', input: raw({ graceSeconds: 3601 }), expect: [/graceSeconds: /] },
  {
    why: 'grace not a number',
    input: raw({ graceSeconds: '5s' }),
    expect: [/graceSeconds: .*number/],
  },
  { why: 'name not a string', input: raw({ name: 7 }), expect: [/name: .*string/] },
  // Unknown keys.
  { why: 'unknown top-level key', input: raw({ extra: 1 }), expect: [/Unrecognized key.*"extra"/] },
  {
    why: 'unknown key in a node',
    input: raw({ nodes: patched(NODES, 1, { ip: 'fc00::9' }) }),
    expect: [/nodes\.1: Unrecognized key.*"ip"/],
  },
  {
    why: 'unknown key in a link',
    input: raw({ links: patched(LINKS, 1, { mtu: 9000 }) }),
    expect: [/links\.1: Unrecognized key.*"mtu"/],
  },
  {
    why: 'unknown key in a flow',
    input: raw({ flows: patched(FLOWS, 0, { port: 5555 }) }),
    expect: [/flows\.0: Unrecognized key.*"port"/],
  },
  {
    why: 'unknown key in a route',
    input: raw({ routes: [{ node: 'A', to: 'default', via: 'fc00::2', metric: 1 }] }),
    expect: [/routes\.0: Unrecognized key.*"metric"/],
  },
  // Addresses.
  {
    why: 'invalid link address',
    input: raw({ links: patched(LINKS, 0, { address: 'fc00::g/64' }) }),
    expect: [/links\.0\.address: 'fc00::g\/64' is not an IPv6 address\/prefix/],
  },
  {
    why: 'link address without a prefix length',
    input: raw({ links: patched(LINKS, 1, { address: 'fc01::1' }) }),
    expect: [/links\.1\.address: 'fc01::1' is not an IPv6 address\/prefix/],
  },
  {
    why: 'IPv4 translator address',
    input: raw({ links: patched(LINKS, 2, { translatorAddress: '10.0.0.1/24' }) }),
    expect: [/links\.2\.translatorAddress: '10\.0\.0\.1\/24' is not an IPv6 address\/prefix/],
  },
  {
    why: 'link prefix length 0',
    input: raw({ links: patched(LINKS, 0, { address: 'fc00::1/0' }) }),
    expect: [/links\.0\.address: 'fc00::1\/0' is not/],
  },
  {
    why: 'node and translator address in different prefixes',
    input: raw({ links: patched(LINKS, 0, { translatorAddress: 'fc09::2/64' }) }),
    expect: [/links\.0: fc00::1\/64 and fc09::2\/64 must be in the same prefix/],
  },
  {
    why: 'node and translator address with different lengths',
    input: raw({ links: patched(LINKS, 0, { translatorAddress: 'fc00::2/80' }) }),
    expect: [/links\.0: .*must be in the same prefix/],
  },
  {
    why: 'two links with the same node address',
    input: raw({
      links: patched(LINKS, 1, { address: 'fc00::1/64', translatorAddress: 'fc00::3/64' }),
    }),
    expect: [/links\.1\.address: address fc00::1 is already used by links\.0\.address/],
  },
  {
    why: 'the same address in another spelling',
    input: raw({
      links: patched(LINKS, 1, { address: 'FC00:0::1/64', translatorAddress: 'fc00::3/64' }),
    }),
    expect: [/address fc00::1 is already used by links\.0\.address/],
  },
  {
    why: 'a link whose two ends share an address',
    input: raw({ links: patched(LINKS, 1, { translatorAddress: 'fc01::1/64' }) }),
    expect: [/links\.1\.translatorAddress: address fc01::1 is already used by links\.1\.address/],
  },
  {
    why: 'two translator addresses alike',
    input: raw({
      links: patched(LINKS, 2, { address: 'fc00::3/64', translatorAddress: 'fc00::2/64' }),
    }),
    expect: [
      /links\.2\.translatorAddress: address fc00::2 is already used by links\.0\.translatorAddress/,
    ],
  },
  {
    why: 'multicast link addresses',
    input: raw({
      links: patched(LINKS, 0, { address: 'ff02::1/64', translatorAddress: 'ff02::2/64' }),
    }),
    expect: [/links\.0\.address: ff02::1 is a multicast address/],
  },
  {
    why: 'link-local link addresses',
    input: raw({
      links: patched(LINKS, 0, { address: 'fe80::1/64', translatorAddress: 'fe80::2/64' }),
    }),
    expect: [
      /links\.0\.address: fe80::1 is a link-local address/,
      /links\.0\.translatorAddress: fe80::2 is a link-local address/,
    ],
  },
  {
    why: 'the loopback address on a link',
    input: raw({ links: patched(LINKS, 0, { address: '::1/64', translatorAddress: '::2/64' }) }),
    expect: [/links\.0\.address: ::1 is the loopback address/],
  },
  {
    why: 'an IPv4-mapped link address',
    input: raw({
      links: patched(LINKS, 0, {
        address: '::ffff:10.0.0.1/120',
        translatorAddress: '::ffff:10.0.0.2/120',
      }),
    }),
    expect: [/links\.0\.address: ::ffff:a00:1 is an IPv4-mapped address/],
  },
  {
    why: 'invalid flow address',
    input: raw({ flows: patched(FLOWS, 0, { address: 'fe00::zz' }) }),
    expect: [/flows\.0\.address: 'fe00::zz' is not an IPv6 address/],
  },
  {
    why: 'flow address with a zone id',
    input: raw({ flows: patched(FLOWS, 0, { address: 'fe00::1%A-B' }) }),
    expect: [/flows\.0\.address: 'fe00::1%A-B' is not an IPv6 address/],
  },
  {
    why: 'flow address given as a prefix',
    input: raw({ flows: patched(FLOWS, 0, { address: 'fe00::1/128' }) }),
    expect: [/flows\.0\.address: 'fe00::1\/128' is not an IPv6 address/],
  },
  {
    why: 'multicast flow address',
    input: raw({ flows: patched(FLOWS, 0, { address: 'ff0e::1' }) }),
    expect: [/flows\.0\.address: ff0e::1 is a multicast address/],
  },
  {
    why: 'link-local flow address',
    input: raw({ flows: patched(FLOWS, 0, { address: 'FE80::1' }) }),
    expect: [/flows\.0\.address: fe80::1 is a link-local address/],
  },
  {
    why: 'unspecified flow address',
    input: raw({ flows: patched(FLOWS, 0, { address: '::' }) }),
    expect: [/flows\.0\.address: :: is the unspecified address/],
  },
  {
    why: "abstract address equal to a server's concrete address",
    input: raw({ flows: patched(FLOWS, 0, { address: 'fc01::1' }) }),
    expect: [/flows\.0\.address: fc01::1 is a concrete address of the lab/],
  },
  {
    why: "abstract address equal to a translator's concrete address (other spelling)",
    input: raw({ flows: patched(FLOWS, 0, { address: 'FC00:0::2' }) }),
    expect: [/flows\.0\.address: fc00::2 is a concrete address of the lab/],
  },
  // Unknown nodes.
  {
    why: 'link to an unknown node',
    input: raw({ links: patched(LINKS, 0, { node: 'E' }) }),
    expect: [/links\.0\.node: unknown node 'E'/],
  },
  {
    why: 'route for an unknown node',
    input: raw({ routes: [{ node: 'E', to: 'default', via: 'fc00::2' }] }),
    expect: [/routes\.0\.node: unknown node 'E'/],
  },
  {
    why: 'route for the translator (it has no link of its own)',
    input: raw({ routes: [{ node: 'B', to: 'default', via: 'fc00::1' }] }),
    expect: [/routes\.0\.node: 'B' has no link to route over/],
  },
  {
    why: 'flow from an unknown initiator',
    input: raw({ flows: patched(FLOWS, 0, { initiator: 'E' }) }),
    expect: [/flows\.0\.initiator: unknown node 'E'/],
  },
  {
    why: 'flow to an unknown responder',
    input: raw({ flows: patched(FLOWS, 0, { responder: 'Z' }) }),
    expect: [/flows\.0\.responder: unknown node 'Z'/],
  },
  // Roles.
  {
    why: 'responder that is a client',
    input: raw({ flows: patched(FLOWS, 0, { responder: 'A' }) }),
    expect: [/flows\.0\.responder: 'A' is a client, not a server/],
  },
  {
    why: 'responder that is the translator',
    input: raw({ flows: patched(FLOWS, 0, { responder: 'B' }) }),
    expect: [/flows\.0\.responder: 'B' is a translator, not a server/],
  },
  {
    why: 'initiator that is a server',
    input: raw({ flows: patched(FLOWS, 0, { initiator: 'D' }) }),
    expect: [/flows\.0\.initiator: 'D' is a server, not a client/],
  },
  // Flows.
  {
    why: 'the same flow twice (other spelling)',
    input: raw({ flows: [...FLOWS, { address: 'FE00:0::1', initiator: 'A', responder: 'D' }] }),
    expect: [/flows\.1\.address: flow fe00::1 is defined twice/],
  },
  {
    why: 'two flows with one name',
    input: raw({
      flows: [
        { name: 'web', address: 'fe00::1', initiator: 'A', responder: 'C' },
        { name: 'web', address: 'fe00::2', initiator: 'A', responder: 'D' },
      ],
    }),
    expect: [/flows\.1\.name: 'web' is used twice/],
  },
  {
    why: 'flow name that is not a word',
    input: raw({ flows: patched(FLOWS, 0, { name: '1; rm' }) }),
    expect: [/flows\.0\.name: '1; rm' must be/],
  },
  // Translators and links.
  {
    why: 'no translator',
    input: raw({ nodes: patched(NODES, 1, { role: 'server' }) }),
    expect: [/nodes: exactly one translator is needed, found 0/],
  },
  {
    why: 'two translators',
    input: raw({ nodes: [...NODES, { name: 'T2', role: 'translator' }] }),
    expect: [/nodes: exactly one translator is needed, found 2/],
  },
  {
    why: 'node without a link',
    input: raw({ nodes: [...NODES, E_NODE] }),
    expect: [/links: node 'E' has no link to the translator/],
  },
  {
    why: 'node with two links',
    input: raw({
      links: [...LINKS, { node: 'A', address: 'fc05::1/64', translatorAddress: 'fc05::2/64' }],
    }),
    expect: [/links\.3\.node: 'A' has more than one link/],
  },
  {
    why: 'link with the translator at the node end',
    input: raw({
      links: [...LINKS, { node: 'B', address: 'fc05::1/64', translatorAddress: 'fc05::2/64' }],
    }),
    expect: [/links\.3\.node: 'B' is the translator/],
  },
  // Names.
  {
    why: 'node name of 8 characters',
    input: raw({ nodes: patched(NODES, 0, { name: 'ABCDEFGH' }) }),
    expect: [/nodes\.0\.name: 'ABCDEFGH' must be 1-7 letters/],
  },
  ...['a;rm', '../x', 'a b', 'A-1', '-a', '', 'é', 'A\tB'].map(
    (name): BadCase => ({
      why: `unsafe node name ${JSON.stringify(name)}`,
      input: raw({ nodes: patched(NODES, 3, { name }) }),
      expect: [/nodes\.3\.name: .* must be 1-7 letters/],
    }),
  ),
  {
    why: 'two nodes with one name',
    input: raw({ nodes: [...NODES, { name: 'C', role: 'server' }] }),
    expect: [/nodes\.4\.name: 'C' is defined twice/],
  },
  ...['a;rm', '../x', 'my lab', '', '.hidden', 'x'.repeat(33)].map(
    (name): BadCase => ({
      why: `unsafe lab name ${JSON.stringify(name)}`,
      input: raw({ name }),
      expect: [/name: '.*' must be 1-32 characters/],
    }),
  ),
  {
    why: 'unsafe lab name given as an option',
    input: raw(),
    options: { name: '../etc' },
    expect: [/name: '\.\.\/etc' must be 1-32/],
  },
  ...['-x', 'a/b', 'x'.repeat(17), 'a b', '../', 'a;'].map(
    (prefix): BadCase => ({
      why: `bad prefix ${JSON.stringify(prefix)}`,
      input: raw(),
      options: { prefix },
      expect: [/prefix '.*' must be 1-16 characters/],
    }),
  ),
  // Routes.
  {
    why: "route via an address that is not on the node's link",
    input: raw({ routes: [{ node: 'A', to: 'default', via: 'fc01::2' }] }),
    expect: [/routes\.0\.via: fc01::2 is not on A's link \(fc00::1\/64\)/],
  },
  {
    why: 'route via something that is not an address',
    input: raw({ routes: [{ node: 'A', to: 'default', via: 'gateway' }] }),
    expect: [/routes\.0\.via: 'gateway' is not an IPv6 address/],
  },
  {
    why: 'route to something that is not a prefix',
    input: raw({ routes: [{ node: 'C', to: 'somewhere', via: 'fc01::2' }] }),
    expect: [/routes\.0\.to: 'somewhere' is neither 'default' nor an IPv6 prefix/],
  },
];

describe('resolveLab: bad descriptions are refused with an InputError naming the problem', () => {
  for (const c of BAD) {
    it(c.why, () => {
      const error = assertInputError(() => resolveLab(c.input, c.options), ...c.expect);
      assert.ok(error instanceof FlowmigError);
      assert.equal(error.exitCode, 2);
      assert.ok(error.problems.length >= 1);
      for (const p of c.expect) {
        assert.ok(
          error.problems.some((problem) => p.test(problem)),
          `no problem matches ${p}: ${JSON.stringify(error.problems)}`,
        );
      }
    });
  }
});

describe('resolveLab: several problems are reported at once', () => {
  it('lists every problem, not only the first', () => {
    const error = assertInputError(() =>
      resolveLab(
        raw({
          name: 'bad name',
          links: patched(LINKS, 0, { address: 'nope/64' }),
          flows: [
            { address: 'fe00::1', initiator: 'A', responder: 'Z' },
            { address: 'ff02::1', initiator: 'C', responder: 'D' },
          ],
        }),
        { prefix: '-p' },
      ),
    );
    assert.ok(error.problems.length > 1);
    const expected = [
      /^prefix '-p'/,
      /^name: 'bad name'/,
      /^links\.0\.address: 'nope\/64'/,
      /^flows\.0\.responder: unknown node 'Z'/,
      /^flows\.1\.address: ff02::1 is a multicast address/,
      /^flows\.1\.initiator: 'C' is a server/,
    ];
    for (const p of expected) {
      assert.ok(
        error.problems.some((x) => p.test(x)),
        `${p} in ${JSON.stringify(error.problems)}`,
      );
    }
    // The message is the context plus every problem, on one line.
    assert.equal(error.message, `lab description: ${error.problems.join('; ')}`);
    assert.ok(!error.message.includes('\n'));
  });

  it('lists every shape problem at once', () => {
    const error = assertInputError(() =>
      resolveLab(raw({ engine: 'pf', extra: true, nodes: patched(NODES, 0, { role: 'x' }) })),
    );
    assert.ok(error.problems.length >= 3, JSON.stringify(error.problems));
  });

  it('is an InputError, a FlowmigError', () => {
    const error = assertInputError(() => resolveLab({}));
    assert.ok(error instanceof InputError);
    assert.equal(error.name, 'InputError');
  });
});

describe('resolveLab: messages', () => {
  it('stay on one line when a refused name holds a newline', () => {
    const error = assertInputError(() =>
      resolveLab(raw({ nodes: patched(NODES, 3, { name: 'D\nrm -rf /' }) })),
    );
    assert.ok(!error.message.includes('\n'), JSON.stringify(error.message));
  });
});

describe('resolveLab: address plans that cannot work', () => {
  it('refuses two links in overlapping prefixes (the translator could not route between them)', () => {
    assertInputError(
      () =>
        resolveLab(
          raw({
            links: patched(LINKS, 1, { address: 'fc00::3/64', translatorAddress: 'fc00::4/64' }),
          }),
        ),
      /links\.1/,
    );
  });

  it("refuses an abstract address inside a link's prefix (the node would look for it on-link)", () => {
    assertInputError(
      () => resolveLab(raw({ flows: patched(FLOWS, 0, { address: 'fc00::99' }) })),
      /flows\.0\.address/,
    );
  });
});

describe('resolveLab: every problem once, in one pass', () => {
  /** The problems of `input`, which must be refused. */
  const problemsOf = (input: unknown, options?: ResolveOptions) =>
    assertInputError(() => resolveLab(input, options)).problems;
  /** Each pattern names exactly one problem, and no other problem is reported. */
  const exactly = (input: unknown, ...patterns: RegExp[]) => {
    const problems = problemsOf(input);
    const all = JSON.stringify(problems);
    for (const p of patterns) {
      assert.equal(problems.filter((x) => p.test(x)).length, 1, `${p} once in ${all}`);
    }
    assert.equal(problems.length, patterns.length, all);
  };

  it('a shape problem does not hide the checks across fields', () => {
    exactly(
      raw({
        engine: 'pf',
        nodes: patched(NODES, 0, { role: 'router' }),
        flows: patched(FLOWS, 0, { address: 'ff02::1', tcp: 'keep' }),
      }),
      /^engine: /,
      /^nodes\.0\.role: /,
      /^flows\.0\.tcp: /,
      /^flows\.0\.address: ff02::1 is a multicast address/,
    );
  });

  it('a node whose role was refused: no check that needs its role (it may be the translator)', () => {
    exactly(raw({ nodes: patched(NODES, 1, { role: 'translatr' }) }), /^nodes\.1\.role: /);
    exactly(
      raw({
        nodes: patched(NODES, 2, { role: 'srv' }),
        flows: patched(FLOWS, 0, { initiator: 'D' }),
      }),
      /^nodes\.2\.role: /,
      /^flows\.0\.initiator: 'D' is a server, not a client$/,
    );
  });

  it('a node whose name was refused: names not found are not called unknown', () => {
    exactly(raw({ nodes: patched(NODES, 2, { name: 3 }) }), /^nodes\.2\.name: .*string/);
  });

  it('a badly formed node name is reported once, not again where it is used', () => {
    const nodes = patched(NODES, 2, { name: 'CCCCCCCC' });
    const links = patched(LINKS, 1, { node: 'CCCCCCCC' });
    const flows = patched(FLOWS, 0, { responder: 'CCCCCCCC' });
    exactly(raw({ nodes, links, flows }), /^nodes\.2\.name: 'CCCCCCCC' must be 1-7/);
  });

  it('a badly formed translator name is reported once (it is still the one translator)', () => {
    exactly(raw({ nodes: patched(NODES, 1, { name: 'B-1' }) }), /^nodes\.1\.name: 'B-1' must be/);
  });

  it('a list the schema refused: nothing that needs its items is checked', () => {
    exactly(without(raw(), 'nodes'), /^nodes: /);
    exactly(raw({ nodes: [] }), /^nodes: .*1/);
    exactly(raw({ links: 'A-B' }), /^links: .*array/);
    exactly(raw({ links: [5, ...LINKS.slice(1)] }), /^links\.0: /);
  });

  it("a link's bad address does not make its node linkless for routes", () => {
    exactly(
      raw({
        links: patched(LINKS, 0, { address: 'nope/64' }),
        routes: [{ node: 'A', to: 'default', via: 'fc00::2' }],
      }),
      /^links\.0\.address: 'nope\/64' is not/,
    );
  });

  it("a link's addresses are checked even when its node is unknown", () => {
    // The unknown name may be a misspelt A: A is not called linkless as well.
    exactly(
      raw({ links: patched(LINKS, 0, { node: 'E', address: 'fc00::g/64' }) }),
      /^links\.0\.node: unknown node 'E'$/,
      /^links\.0\.address: 'fc00::g\/64' is not/,
    );
    exactly(raw({ nodes: [...NODES, E_NODE] }), /^links: node 'E' has no link to the translator$/);
  });

  it('with no translator, the links, routes and flows are still checked', () => {
    exactly(
      raw({
        nodes: patched(NODES, 1, { role: 'server' }),
        links: patched(LINKS, 2, { translatorAddress: 'fc09::1/64' }),
        flows: patched(FLOWS, 0, { address: 'fe00::zz' }),
      }),
      /^nodes: exactly one translator is needed, found 0$/,
      /^links\.2: fc02::2\/64 and fc09::1\/64 must be in the same prefix$/,
      /^flows\.0\.address: 'fe00::zz' is not an IPv6 address$/,
    );
  });

  it("a route's target and gateway are checked even when its node is unknown", () => {
    exactly(
      raw({ routes: [{ node: 'E', to: 'somewhere', via: 'gateway' }] }),
      /^routes\.0\.node: unknown node 'E'$/,
      /^routes\.0\.to: 'somewhere' is neither/,
      /^routes\.0\.via: 'gateway' is not an IPv6 address$/,
    );
  });
});
