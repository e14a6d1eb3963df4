// Helpers of the daemon's burst tests (concurrency, durability): a lab of many flows written as a
// file, a raw JSON-lines client that counts every reply it gets, and the translator's map as read.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { abstractAddress } from '../../src/bench/flows.js';
import { findAgentsWhere } from '../../src/control/agent-process.js';
import { findDaemonsWhere } from '../../src/control/daemon-process.js';
import type { DaemonReply, RequestBody } from '../../src/daemon-api/protocol.js';
import { concreteAddress, type Lab } from '../../src/lab/model.js';
import { resolveLab } from '../../src/lab/resolve.js';
import type { LabDescriptionInput } from '../../src/lab/schema.js';
import { jsonParts } from '../../src/nft/json.js';
import {
  cli,
  namespacesWith,
  removeNamespacesWith,
  runner,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';
import { THREE_SERVERS_LAB } from '../support/labs.js';

export const SERVERS = ['C', 'D', 'E'] as const;

/** The i-th flow's abstract address (i ≥ 0): fe00::1, then fe00::1:0, fe00::1:1, ... */
export const flowAddress = abstractAddress;

/** Client A, translator B, servers C, D and E; `n` flows from A, spread over the servers. */
export function manyFlowsLab(n: number): LabDescriptionInput {
  return {
    ...THREE_SERVERS_LAB,
    name: 'burst',
    graceSeconds: 1,
    flows: Array.from({ length: n }, (_, i) => ({
      address: flowAddress(i),
      initiator: 'A',
      responder: SERVERS[i % SERVERS.length] ?? 'C',
    })),
  };
}

/** A lab of `n` flows up through the CLI (so with its daemon), and everything gone afterwards. */
export async function withBurstLab(
  n: number,
  fn: (t: { lab: Lab; prefix: string; stateDir: string; socket: string }) => Promise<void>,
): Promise<void> {
  const prefix = uniquePrefix();
  const stateDir = await tempStateDir();
  const files = await mkdtemp(join(tmpdir(), 'flowmig-burst-'));
  try {
    const description = manyFlowsLab(n);
    const file = join(files, 'lab.yaml');
    await writeFile(file, JSON.stringify(description));
    const up = await cli(['up', '-c', file, '--detach', '--prefix', prefix, '--json'], {
      stateDir,
    });
    assert.equal(up.code, 0, up.stderr);
    const socket = (JSON.parse(up.stdout) as { daemon?: { socket: string } }).daemon?.socket;
    assert.ok(socket, 'up --detach started the daemon');
    const lab = resolveLab(description, { prefix });
    await fn({ lab, prefix, stateDir, socket });
    const down = await cli(['down'], { stateDir });
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(await namespacesWith(prefix), [], 'namespaces left');
    assert.deepEqual(await findDaemonsWhere((id) => id.startsWith(prefix)), [], 'daemon left');
    assert.deepEqual(await findAgentsWhere((id) => id.startsWith(prefix)), [], 'agent left');
    assert.deepEqual(await readdir(stateDir), [], 'files left in the state dir');
  } finally {
    for (const pid of await findDaemonsWhere((id) => id.startsWith(prefix))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await removeNamespacesWith(prefix);
    await rm(stateDir, { recursive: true, force: true });
    await rm(files, { recursive: true, force: true });
  }
}

/** Concrete responder address → node name, for the lab's servers. */
export function serverOf(lab: Lab): Map<string, string> {
  return new Map(SERVERS.map((s) => [concreteAddress(lab, s) ?? '', s]));
}

/** The translator's `dnat_to` map now: abstract address → responder address. */
export async function dnatMap(lab: Lab): Promise<Map<string, string>> {
  const out = await runner.run(['nft', '-j', 'list', 'map', 'ip6', 'flowmig', 'dnat_to'], {
    netns: lab.translator.netns,
  });
  const doc = JSON.parse(out.stdout) as { nftables?: { map?: { elem?: unknown[] } }[] };
  const elems = doc.nftables?.find((x) => x.map)?.map?.elem ?? [];
  const map = new Map<string, string>();
  for (const e of elems) {
    const [key, value] = e as [unknown, unknown];
    const [, address] = jsonParts(key);
    if (address && typeof value === 'string') map.set(address, value);
  }
  return map;
}

/**
 * A raw connection to the daemon: numbers its requests, and counts every reply line, so a test
 * sees a request answered twice, a reply to no request, or none before the connection closed.
 */
export class LineClient {
  private buffer = '';
  private nextId = 1;
  private readonly waiting = new Map<number, (r: DaemonReply | undefined) => void>();
  private readonly answered = new Set<number>();
  /** Replies that answered no waiting request (twice, unknown id, id null). */
  readonly strays: DaemonReply[] = [];
  replies = 0;
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.buffer += text;
      for (let at = this.buffer.indexOf('\n'); at >= 0; at = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, at);
        this.buffer = this.buffer.slice(at + 1);
        this.onReply(JSON.parse(line) as DaemonReply);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiting.values()) w(undefined);
      this.waiting.clear();
    });
  }

  static open(path: string): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      socket.once('connect', () => resolve(new LineClient(socket)));
      socket.once('error', reject);
    });
  }

  private onReply(r: DaemonReply): void {
    this.replies++;
    const w = r.id === null ? undefined : this.waiting.get(r.id);
    if (!w || r.id === null || this.answered.has(r.id)) {
      this.strays.push(r);
      return;
    }
    this.waiting.delete(r.id);
    this.answered.add(r.id);
    w(r);
  }

  /** Sends one request; its reply, or undefined when the connection closed before it came. */
  request(body: RequestBody): Promise<DaemonReply | undefined> {
    const id = this.nextId++;
    if (this.closed) return Promise.resolve(undefined);
    const reply = new Promise<DaemonReply | undefined>((resolve) => this.waiting.set(id, resolve));
    this.socket.write(`${JSON.stringify({ ...body, id })}\n`);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }
}
