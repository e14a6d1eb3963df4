import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  listNamespaces,
  namespaceLinks,
  parseLinks,
  parseNetnsList,
  waitForLinks,
} from '../../src/control/kernel.js';
import { RecordingRunner } from '../../src/exec/recording.js';
import { LINKS_MARKED, LINKS_UNMARKED } from '../support/samples.js';

describe('parseNetnsList', () => {
  const cases: [string, string[]][] = [
    ['A (id: 0)\nB\n', ['A', 'B']],
    ['t1-D (id: 3)\nt1-C (id: 2)\nt1-B\nt1-A (id: 0)\n', ['t1-D', 't1-C', 't1-B', 't1-A']],
    ['  A (id: 0)  \n\n\nB', ['A', 'B']],
    ['', []],
    ['\n', []],
  ];
  for (const [text, names] of cases) {
    it(`${JSON.stringify(text)} → ${JSON.stringify(names)}`, () => {
      assert.deepEqual(parseNetnsList(text), names);
    });
  }
});

describe('parseLinks (ip -o link show)', () => {
  it('reads the mark from the alias of lo, the other interfaces, and which are up', () => {
    assert.deepEqual(parseLinks(LINKS_MARKED), {
      mark: 'flowmig:t1-default',
      others: ['B-A', 'A-B'],
      operUp: ['B-A'],
    });
  });

  it('an unmarked namespace has no mark; DOWN and UNKNOWN are not up', () => {
    assert.deepEqual(parseLinks(LINKS_UNMARKED), { mark: undefined, others: ['ifb0'], operUp: [] });
  });

  it('strips the @peer part of a veth name in another namespace', () => {
    const text =
      '2: A-B@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 9a:3c:11:22:33:44 brd ff:ff:ff:ff:ff:ff link-netns B\n';
    assert.deepEqual(parseLinks(text), { mark: undefined, others: ['A-B'], operUp: ['A-B'] });
  });

  it('a fresh namespace (lo down, no alias) is bare', () => {
    const text =
      '1: lo: <LOOPBACK> mtu 65536 qdisc noop state DOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n';
    assert.deepEqual(parseLinks(text), { mark: undefined, others: [], operUp: [] });
  });

  it('reads only the alias of lo as the mark', () => {
    const text = [
      '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00',
      '2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 9a:3c:11:22:33:44 brd ff:ff:ff:ff:ff:ff\\    alias flowmig:t1-default',
    ].join('\n');
    assert.equal(parseLinks(text).mark, undefined);
  });

  it('ignores lines that are not interfaces (e.g. without -o)', () => {
    const text = '    link/ether 9a:3c:11:22:33:44 brd ff:ff:ff:ff:ff:ff\n    alias flowmig:x\n\n';
    assert.deepEqual(parseLinks(text), { mark: undefined, others: [], operUp: [] });
  });
});

describe('kernel queries through a Runner', () => {
  it('listNamespaces runs `ip netns list` in the host namespace', async () => {
    const runner = new RecordingRunner(() => ({ stdout: 'B (id: 1)\nA (id: 0)\n' }));
    assert.deepEqual([...(await listNamespaces(runner))].sort(), ['A', 'B']);
    assert.deepEqual(
      runner.calls.map((c) => c.full),
      [['ip', 'netns', 'list']],
    );
  });

  it('namespaceLinks runs `ip -n NS -o link show`', async () => {
    const runner = new RecordingRunner(() => ({ stdout: LINKS_MARKED }));
    assert.equal((await namespaceLinks(runner, 't1-B')).mark, 'flowmig:t1-default');
    assert.deepEqual(runner.lines(), ['ip -n t1-B -o link show']);
  });
});

describe('waitForLinks', () => {
  const up = (name: string) =>
    `9: ${name}@if8: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000`;
  const lowerDown = (name: string) =>
    `9: ${name}@if8: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue state LOWERLAYERDOWN mode DEFAULT group default qlen 1000`;
  const links = [
    { netns: 'A', dev: 'A-B' },
    { netns: 'B', dev: 'B-A' },
    { netns: 'B', dev: 'B-C' },
    { netns: 'C', dev: 'C-B' },
  ];

  it('returns nothing pending when every link is up, asking each namespace once', async () => {
    const runner = new RecordingRunner((call) => ({
      stdout: links
        .filter((l) => l.netns === call.netns)
        .map((l) => up(l.dev))
        .join('\n'),
    }));
    assert.deepEqual(await waitForLinks(runner, links), []);
    assert.deepEqual(runner.lines(), [
      'ip -n A -o link show',
      'ip -n B -o link show',
      'ip -n C -o link show',
    ]);
  });

  it('polls until the carrier comes on, asking only about the links still down', async () => {
    let polls = 0;
    const runner = new RecordingRunner((call) => {
      if (call.netns === 'B') polls++;
      const carrier = polls >= 3;
      return {
        stdout: links
          .filter((l) => l.netns === call.netns)
          .map((l) => (l.netns !== 'B' || carrier ? up(l.dev) : lowerDown(l.dev)))
          .join('\n'),
      };
    });
    assert.deepEqual(await waitForLinks(runner, links), []);
    assert.equal(polls, 3);
    assert.equal(runner.lines().filter((l) => l.startsWith('ip -n A ')).length, 1);
  });

  it('gives up at the deadline and names the links still down', async () => {
    const runner = new RecordingRunner((call) => ({
      stdout: call.netns === 'B' ? `${up('B-A')}\n${lowerDown('B-C')}` : up(`${call.netns}-B`),
    }));
    assert.deepEqual(await waitForLinks(runner, links, 0), ['B/B-C']);
  });

  it('an interface that does not exist counts as down', async () => {
    const runner = new RecordingRunner(() => ({ stdout: '' }));
    assert.deepEqual(await waitForLinks(runner, [{ netns: 'A', dev: 'A-B' }], 0), ['A/A-B']);
  });
});
