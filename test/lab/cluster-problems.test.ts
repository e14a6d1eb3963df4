import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveCluster } from '../../src/lab/cluster-resolve.js';
import { assertInputError } from '../support/labs.js';
import { hostsDescription, type RawCluster, type RawHost, rawCluster } from './cluster-fixtures.js';

/** The problems of `raw`, which must be refused; each is one line. */
function problemsOf(raw: unknown, options = {}): readonly string[] {
  const error = assertInputError(() => resolveCluster(raw, options), /^cluster lab description: /);
  for (const p of error.problems) assert.ok(!p.includes('\n'), p);
  assert.equal(error.message, `cluster lab description: ${error.problems.join('; ')}`);
  return error.problems;
}

/** rawCluster() changed by `edit`. */
function edited(edit: (d: RawCluster) => void): RawCluster {
  const d = rawCluster();
  edit(d);
  return d;
}

const host = (d: RawCluster, i: number): RawHost => {
  const h = d.hosts[i];
  assert.ok(h);
  return h;
};

const CASES: readonly { name: string; raw: unknown; problems: readonly (string | RegExp)[] }[] = [
  {
    name: 'two hosts of one name',
    raw: edited((d) => {
      host(d, 2).name = 'h1';
    }),
    problems: ["hosts.2.name: 'h1' is defined twice"],
  },
  {
    name: 'a node name on two hosts',
    raw: edited((d) => {
      host(d, 1).nodes.push({ name: 'S1', role: 'server' });
      host(d, 1).links.push({
        node: 'S1',
        address: 'fc00:12::1/64',
        translatorAddress: 'fc00:12::ff/64',
      });
    }),
    problems: ["hosts.1.nodes.2.name: 'S1' is already a node of host h1"],
  },
  {
    name: 'a node named as the fabric',
    raw: edited((d) => {
      host(d, 2).nodes[1] = { name: 'fab', role: 'server' };
      host(d, 2).links[0] = {
        node: 'fab',
        address: 'fc00:3::1/64',
        translatorAddress: 'fc00:3::ff/64',
      };
    }),
    problems: ["hosts.2.nodes.1.name: 'fab' is reserved for the fabric's namespace"],
  },
  {
    name: 'a host without a translator',
    raw: edited((d) => {
      host(d, 2).nodes.shift();
    }),
    problems: ['hosts.2.nodes: exactly one translator is needed, found 0'],
  },
  {
    name: 'a host with two translators',
    raw: edited((d) => {
      host(d, 1).nodes.push({ name: 'T9', role: 'translator' });
    }),
    problems: ['hosts.1.nodes: exactly one translator is needed, found 2'],
  },
  {
    name: "a host's link in another host's prefix",
    raw: edited((d) => {
      host(d, 2).links[0] = {
        node: 'S3',
        address: 'fc00:1::3/64',
        translatorAddress: 'fc00:1::4/64',
      };
    }),
    problems: [
      "hosts.2.links: prefix fc00:1::3/64 of S3's link overlaps fc00:1::1/64 of S1's link on host h1",
    ],
  },
  {
    name: "a host's wider prefix around another host's",
    raw: edited((d) => {
      host(d, 1).links[0] = {
        node: 'S2',
        address: 'fc10::1:0:0:1/48',
        translatorAddress: 'fc10::1:0:0:2/48',
      };
    }),
    problems: [
      /^hosts\.1\.links: prefix fc10::1:0:0:1\/48 of S2's link overlaps fc10::1\/64 of A's link on host h1$/,
    ],
  },
  {
    name: 'a node linked to another host’s translator',
    raw: edited((d) => {
      host(d, 1).links.push({ node: 'A', address: 'fc20::1/64', translatorAddress: 'fc20::2/64' });
    }),
    problems: ["hosts.1.links.1.node: unknown node 'A'"],
  },
  {
    name: 'the fabric overlapping a host’s prefix',
    raw: edited((d) => {
      d.fabric = 'fc00:3::/64';
    }),
    problems: ["fabric: fc00:3::/64 overlaps prefix fc00:3::1/64 of S3's link on host h3"],
  },
  {
    name: 'flows naming unknown nodes',
    raw: edited((d) => {
      d.flows = [{ address: 'fe00::1', initiator: 'Z', responder: 'S9' }];
    }),
    problems: ["flows.0.initiator: unknown node 'Z'", "flows.0.responder: unknown node 'S9'"],
  },
  {
    name: 'a flow from a server on another host',
    raw: edited((d) => {
      d.flows = [{ address: 'fe00::1', initiator: 'S3', responder: 'S2' }];
    }),
    problems: ["flows.0.initiator: 'S3' is a server, not a client"],
  },
  {
    name: 'an abstract address inside the fabric',
    raw: edited((d) => {
      d.flows = [{ address: 'fd00:fab::99', initiator: 'A', responder: 'S2' }];
    }),
    problems: [
      'flows.0.address: fd00:fab::99 is inside the prefix of the fabric; abstract addresses must be routed via the translator',
    ],
  },
  {
    name: 'an abstract address that is a translator’s fabric address',
    raw: edited((d) => {
      d.flows = [{ address: 'fd00:fab::2', initiator: 'A', responder: 'S2' }];
    }),
    problems: ['flows.0.address: fd00:fab::2 is a concrete address of the lab'],
  },
  {
    name: 'more hosts than supported',
    raw: hostsDescription(17),
    problems: ['hosts: 17 hosts; at most 16 are supported'],
  },
  {
    name: 'a fabric that is no prefix',
    raw: { ...rawCluster(), fabric: 'fabric' },
    problems: [/^fabric: 'fabric' is not an IPv6 prefix/],
  },
  {
    name: 'a fabric of another length',
    raw: { ...rawCluster(), fabric: 'fd00:fab::/48' },
    problems: ['fabric: fd00:fab::/48 must be a /64 (host i is <fabric>::i)'],
  },
  {
    name: 'a fabric with host bits',
    raw: { ...rawCluster(), fabric: 'fd00:fab::1/64' },
    problems: ['fabric: fd00:fab::1/64 has host bits set; write fd00:fab::/64'],
  },
  {
    name: 'a link-local fabric',
    raw: { ...rawCluster(), fabric: 'fe80::/64' },
    problems: ['fabric: fe80:: is a link-local address'],
  },
  {
    name: 'a bad host name',
    raw: edited((d) => {
      host(d, 0).name = 'h 1';
    }),
    problems: [/^hosts\.0\.name: 'h 1' must be 1-16 letters/],
  },
  {
    name: 'an unknown key in a host',
    raw: edited((d) => {
      host(d, 1).color = 'red';
    }),
    problems: [/^hosts\.1: Unrecognized key/],
  },
  {
    // Its nodes are unknown, so a flow to S2 is not said to name an unknown node.
    name: 'a host that is not an object',
    raw: edited((d) => {
      (d.hosts as unknown[])[1] = 'h2';
    }),
    problems: [/^hosts\.1: /],
  },
  {
    name: 'no hosts',
    raw: { flows: [], hosts: [] },
    problems: [/^hosts: /],
  },
  {
    name: "a single-host lab's file",
    raw: { nodes: [], links: [], flows: [] },
    problems: [/^\(top\): Unrecognized keys: "nodes", "links"/, /^hosts: /],
  },
];

describe('resolveCluster: each problem', () => {
  for (const c of CASES) {
    it(`refuses ${c.name}`, () => {
      const problems = problemsOf(c.raw);
      for (const p of c.problems) {
        assert.ok(
          problems.some((x) => (typeof p === 'string' ? x === p : p.test(x))),
          `${p} in ${JSON.stringify(problems)}`,
        );
      }
      // The mistake is reported once, not again by the checks that needed it.
      assert.equal(problems.length, c.problems.length, JSON.stringify(problems));
    });
  }
});

describe('resolveCluster: every problem at once', () => {
  it('lists problems of the fabric, of several hosts, across hosts and of flows together', () => {
    const raw = edited((d) => {
      d.fabric = 'fd00:fab::/48';
      host(d, 1).name = 'h1';
      host(d, 1).nodes.push({ name: 'A', role: 'client' });
      host(d, 2).nodes.shift();
      host(d, 2).links[0] = {
        node: 'S3',
        address: 'fc00:1::3/64',
        translatorAddress: 'fc00:1::4/64',
      };
      d.flows.push({ address: 'fe00::2', initiator: 'A', responder: 'Q' });
    });
    const problems = problemsOf(raw, { prefix: 'x-' });
    const expected = [
      /^fabric: fd00:fab::\/48 must be a \/64/,
      /^hosts\.1\.name: 'h1' is defined twice$/,
      /^hosts\.1\.nodes\.2\.name: 'A' is already a node of host h1$/,
      /^hosts\.1\.links: node 'A' has no link to the translator$/,
      /^hosts\.2\.nodes: exactly one translator is needed, found 0$/,
      /^hosts\.2\.links: prefix fc00:1::3\/64 of S3's link overlaps/,
      /^flows\.1\.responder: unknown node 'Q'$/,
    ];
    for (const p of expected)
      assert.ok(
        problems.some((x) => p.test(x)),
        `${p} in ${JSON.stringify(problems)}`,
      );
    assert.equal(problems.length, expected.length, JSON.stringify(problems));
  });

  it('accepts the same description once the problems are fixed', () => {
    assert.equal(resolveCluster(rawCluster()).hosts.length, 3);
  });
});
