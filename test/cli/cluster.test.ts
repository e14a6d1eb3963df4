// The CLI on a cluster lab, against fake host daemons on their sockets: which daemon a command goes
// to, what it prints, errors and their exit codes, status with a silent host, paged flows.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { clusterActions } from '../../src/cli/cluster-prompt.js';
import { main } from '../../src/cli/main.js';
import { runPromptWith } from '../../src/cli/prompt.js';
import { writeClusterState } from '../../src/control/cluster/state.js';
import type { HostdChange, HostdStatus } from '../../src/hostd-api/protocol.js';
import { hostdPaths } from '../../src/hostd-api/protocol.js';
import { sampleState } from '../control/cluster/sample.js';
import { removeDir, tempDir } from '../support/tmp.js';

const LAB = 'fmu-three';

type Reply = { result: unknown } | { error: string; code: string };

/** A host daemon's socket answering each request with `reply`; records what it was asked. */
async function fakeHostd(
  dir: string,
  host: string,
  reply: (request: Record<string, unknown>) => Reply,
): Promise<{ server: Server; requests: Record<string, unknown>[] }> {
  const requests: Record<string, unknown>[] = [];
  const server = createServer((socket) => {
    let buffer = '';
    socket.on('data', (b: Buffer) => {
      buffer += b.toString();
      for (let at = buffer.indexOf('\n'); at >= 0; at = buffer.indexOf('\n')) {
        const request = JSON.parse(buffer.slice(0, at)) as Record<string, unknown>;
        buffer = buffer.slice(at + 1);
        requests.push(request);
        const r = reply(request);
        socket.write(`${JSON.stringify({ id: request.id, ok: 'result' in r, ...r })}\n`);
      }
    });
    socket.on('error', () => {});
  });
  const { socket } = hostdPaths(dir, LAB, host);
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return { server, requests };
}

/** Runs main() with stdout and stderr captured. */
async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string) => {
    stdout += chunk;
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => {
    stderr += chunk;
    return true;
  }) as typeof process.stderr.write;
  // The test runner sets exitCode when a test fails; main() reads it as the command's.
  process.exitCode = undefined;
  try {
    const code = await main(argv);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = undefined;
  }
}

const change = (over: Partial<HostdChange> = {}): HostdChange => ({
  lab: LAB,
  moves: [{ flow: 'fe00::1', from: 'S1', to: 'S2' }],
  revision: 12,
  changed: true,
  appliedBy: ['h1', 'h2', 'h3'],
  commitMs: 4.25,
  appliedMs: 2.5,
  ...over,
});

const hostStatus = (host: string, over: Partial<HostdStatus> = {}): HostdStatus => ({
  lab: LAB,
  host,
  pid: 1000 + Number(host.slice(1)),
  socket: `/x/${host}.sock`,
  startedAt: '2026-01-01T00:00:00.000Z',
  applied: 12,
  leaseAlive: true,
  revision: 12,
  lag: 0,
  byResponder: { S2: 1 },
  ingress: host === 'h1' ? 1 : 0,
  problems: [],
  ...over,
});

describe('the CLI on a cluster lab', () => {
  let dir = '';
  const servers: Server[] = [];
  const hostd = async (host: string, reply: (r: Record<string, unknown>) => Reply) => {
    const h = await fakeHostd(dir, host, reply);
    servers.push(h.server);
    return h;
  };
  beforeEach(async () => {
    dir = await tempDir('cluster-cli');
    await writeClusterState(dir, await sampleState(LAB));
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
    await removeDir(dir);
  });

  it('swap goes to host 1, with --lab left out (the only lab), and prints the move', async () => {
    const h1 = await hostd('h1', () => ({ result: change() }));
    const h2 = await hostd('h2', () => ({ result: change() }));
    const r = await run(['--state-dir', dir, 'swap', '--flow', 'fe00::1']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      h1.requests.map(({ id: _, ...body }) => body),
      [{ verb: 'swap', flow: 'fe00::1' }],
    );
    assert.equal(h2.requests.length, 0);
    assert.match(r.stdout, /^flow fe00::1: S1 → S2\n/);
    assert.match(
      r.stdout,
      /revision 12: committed in 4\.3 ms, applied by h1, h2, h3 2\.5 ms later/,
    );
  });

  it('goes to the next host when host 1 has no daemon; --json is the daemon’s result', async () => {
    const h2 = await hostd('h2', () => ({ result: change() }));
    const r = await run(['--state-dir', dir, 'migrate', 'fe00::1', 'S2', '--lab', LAB, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(h2.requests[0]?.verb, 'migrate');
    assert.deepEqual(JSON.parse(r.stdout), change());
  });

  it('keeps a daemon’s error and its code (bad input: exit 2); asks no other host', async () => {
    await hostd('h1', () => ({ error: "no node 'S9' in lab fmu-three", code: 'invalid' }));
    const h2 = await hostd('h2', () => ({ result: change() }));
    const bad = await run(['--state-dir', dir, 'evacuate', 'S9', 'S2']);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, "flowmig: no node 'S9' in lab fmu-three\n");
    assert.equal(h2.requests.length, 0);
  });

  it('a conflict is exit 1', async () => {
    await hostd('h1', () => ({
      error: 'flow fe00::1 changed under this migration',
      code: 'conflict',
    }));
    const r = await run(['--state-dir', dir, 'swap']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /changed under this migration/);
  });

  it('says so, naming each host tried, when no host daemon answers', async () => {
    const r = await run(['--state-dir', dir, 'swap']);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /no host daemon of cluster lab fmu-three answers: h1 \(.*\); h2 \(.*\); h3 \(/,
    );
  });

  it('status: a line per host, a silent host shown as such, then the flows', async () => {
    const flows = {
      revision: 12,
      flows: [{ address: 'fe00::1', initiator: 'A', responder: 'S2', tcp: 'reset' }],
    };
    const answer =
      (host: string) =>
      (r: Record<string, unknown>): Reply =>
        r.verb === 'status'
          ? { result: hostStatus(host) }
          : r.verb === 'cluster'
            ? { result: { revision: 12, hosts: [] } }
            : { result: flows };
    await hostd('h1', answer('h1'));
    await hostd('h3', answer('h3'));
    const r = await run(['--state-dir', dir, 'status', '--lab', LAB]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(
      lines[0] ?? '',
      /^cluster lab fmu-three: 3 host\(s\), 2 answering, .*table revision 12/,
    );
    const row = (h: string) => lines.find((l) => l.startsWith(`${h} `)) ?? '';
    assert.match(row('h1'), /pid 1001\s+alive\s+12\s+0 \(in sync\)\s+S2:1\s+1$/);
    assert.match(row('h2'), /NOT ANSWERING \(/);
    assert.match(row('h3'), /pid 1003\s+alive\s+12\s+0 \(in sync\)\s+S2:1\s+0$/);
    assert.match(r.stdout, /fe00::1\s+-\s+A\s+S2/);
    const json = JSON.parse((await run(['--state-dir', dir, 'status', '--json'])).stdout);
    assert.equal(json.kind, 'cluster');
    assert.deepEqual(
      json.hosts.map((h: { host: string; answering: boolean }) => [h.host, h.answering]),
      [
        ['h1', true],
        ['h2', false],
        ['h3', true],
      ],
    );
    assert.deepEqual(json.flows, flows.flows);
  });

  it('up --dry-run of a cluster file prints the commands of its network, fabric included', async () => {
    const file = join(
      dirname(fileURLToPath(import.meta.url)),
      '..',
      '..',
      '..',
      'examples',
      'three-hosts.yaml',
    );
    const r = await run(['--state-dir', dir, 'up', '-c', file, '-p', 'fmd-', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines[0], 'ip netns add fmd-A');
    assert.ok(lines.includes('ip netns add fmd-fab'));
    assert.ok(lines.includes('ip -n fmd-fab link add name br0 type bridge'), r.stdout);
  });

  it('flows pages the table', async () => {
    const flows = Array.from({ length: 5 }, (_, i) => ({
      address: `fe00::${i + 1}`,
      initiator: 'A',
      responder: 'S1',
    }));
    await hostd('h1', (r) =>
      r.verb === 'status' ? { result: hostStatus('h1') } : { result: { revision: 3, flows } },
    );
    const r = await run(['--state-dir', dir, 'flows', '--limit', '2', '--offset', '2']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /fe00::3/);
    assert.doesNotMatch(r.stdout, /fe00::1 |fe00::5/);
    assert.match(r.stdout, /flows 3-4 of 5; --offset 4 for the next page/);
  });

  it('the prompt acts through the host daemons; errors are answered in it, it goes on', async () => {
    const h1 = await hostd('h1', (r) => {
      if (r.verb === 'status') return { result: hostStatus('h1') };
      if (r.verb === 'flows')
        return {
          result: {
            revision: 12,
            flows: [{ address: 'fe00::1', initiator: 'A', responder: 'S2' }],
          },
        };
      if (r.verb === 'cluster') return { result: { revision: 12, hosts: [] } };
      if (r.verb === 'migrate' && r.node === 'A')
        return {
          error: "node 'A' is a client: a flow's responder must be a server",
          code: 'invalid',
        };
      return { result: change() };
    });
    const input = new PassThrough();
    const output = new PassThrough();
    let printed = '';
    output.on('data', (b: Buffer) => {
      printed += b.toString();
    });
    const ended = runPromptWith(clusterActions(dir, LAB), { input, output });
    input.end(
      [
        'swap',
        'migrate fe00::1 A',
        'evacuate S1 S2',
        'reconcile',
        'serve S9',
        'flows',
        'status',
        'quit',
        'swap',
      ].join('\n'),
    );
    assert.equal(await ended, 'quit');
    assert.deepEqual(
      h1.requests
        .filter((r) => !['status', 'flows', 'cluster'].includes(String(r.verb)))
        .map(({ id: _, ...b }) => b),
      [
        { verb: 'swap' },
        { verb: 'migrate', flow: 'fe00::1', node: 'A' },
        { verb: 'evacuate', from: 'S1', to: 'S2' },
      ],
      'nothing after quit',
    );
    assert.match(printed, /^flow fe00::1: S1 → S2\nrevision 12: committed in 4\.3 ms/);
    assert.match(printed, /error: node 'A' is a client/);
    assert.match(printed, /error: nothing to reconcile: .* \(lab fmu-three is a cluster lab\)/);
    assert.match(printed, /error: .*'S9' is not a server node of lab fmu-three/);
    assert.match(printed, /fe00::1\s+-\s+A\s+S2/);
    assert.match(printed, /cluster lab fmu-three: 3 host\(s\)/);
  });
});
