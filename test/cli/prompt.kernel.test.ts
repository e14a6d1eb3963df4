// The interactive prompt of `flowmig up`: commands, unknown input, and how each way out ends.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { sleep } from '../../src/experiment/process.js';
import {
  CLI,
  cli,
  namespacesWith,
  removeNamespacesWith,
  runner,
  tempStateDir,
  uniquePrefix,
} from '../kernel-support/lab.js';

interface Session {
  readonly child: ChildProcessWithoutNullStreams;
  readonly prefix: string;
  readonly stateDir: string;
  output(): string;
  /** Types a line and waits until the output grows past `expect`. */
  type(line: string, expect: RegExp): Promise<string>;
  closed: Promise<number | null>;
}

async function session<T>(args: string[], fn: (s: Session) => Promise<T>): Promise<T> {
  const prefix = uniquePrefix();
  const stateDir = await tempStateDir();
  const child = spawn(process.execPath, [CLI, 'up', '--prefix', prefix, ...args], {
    env: { ...process.env, FLOWMIG_STATE_DIR: stateDir },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const closed = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  const waitFor = async (re: RegExp, from: number) => {
    const deadline = Date.now() + 15_000;
    while (!re.test(out.slice(from)) && Date.now() < deadline) await sleep(10);
    assert.match(out.slice(from), re);
    return out.slice(from);
  };
  const s: Session = {
    child,
    prefix,
    stateDir,
    output: () => out,
    type: async (line, expect) => {
      const from = out.length;
      child.stdin.write(`${line}\n`);
      return waitFor(expect, from);
    },
    closed,
  };
  try {
    await waitFor(/is up; type 'help'/, 0);
    return await fn(s);
  } finally {
    child.kill('SIGKILL');
    await cli(['down', '--lab', `${prefix}default`], { stateDir });
    await removeNamespacesWith(prefix);
    await rm(stateDir, { recursive: true, force: true });
  }
}

describe('flowmig up: the interactive prompt', () => {
  it('answers every command and changes nothing on unknown input', async () => {
    await session([], async (s) => {
      assert.match(await s.type('help', /migrate FLOW NODE/), /swap \[FLOW\]/);
      assert.match(await s.type('swapx', /unknown command 'swapx'/), /nothing changed/);
      assert.match(await s.type('1', /unknown command '1'/), /help/);
      assert.match(await s.type('migrate fe00::1', /usage: migrate FLOW NODE/), /usage/);
      assert.match(await s.type('flows', /fe00::1.*C/), /ok \(fc01::1\)/);
      assert.match(await s.type('status', /0 migration\(s\)/), /translator table: installed/);
      assert.match(await s.type('swap', /fe00::1: C → D/), /1 entr|0 entries/);
      assert.match(
        await s.type('migrate fe00::1 Q', /error: unknown node 'Q'/),
        /nodes: A, B, C, D/,
      );
      assert.match(await s.type('migrate fe00::1 C', /fe00::1: D → C/), /ms/);
      assert.match(await s.type('migrate fe00::1 C', /already on C; nothing changed/), /nothing/);
      assert.match(await s.type('status', /2 migration\(s\)/), /ok \(fc01::1\)/);
      s.child.stdin.write('quit\n');
      assert.equal(await s.closed, 0);
      assert.match(s.output(), /torn down/);
      assert.deepEqual(await namespacesWith(s.prefix), []);
    });
  });

  it('evacuate, reconcile and serve act on the lab as their CLI verbs do', async () => {
    await session([], async (s) => {
      assert.match(await s.type('help', /serve --stop/), /evacuate FROM TO[\s\S]*reconcile/);
      assert.match(await s.type('evacuate C', /usage: evacuate FROM TO/), /usage/);
      assert.match(await s.type('evacuate C Q', /error: unknown node 'Q'/), /nodes: A, B, C, D/);
      assert.match(
        await s.type('evacuate C D', /1 flow\(s\) moved C → D/),
        /via .*rule .*conntrack/,
      );
      assert.match(await s.type('flows', /fe00::1.*D/), /ok \(fc02::2\)/);
      assert.match(
        await s.type('reconcile', /lab \S+: the translator matches the desired flow table/),
        /matches/,
      );
      // A change behind flowmig's back: the flow's mapping leaves the translator's table.
      await runner.run(
        ['nft', 'delete', 'element', 'ip6', 'flowmig', 'dnat_to', '{ fc00::1 . fe00::1 }'],
        { netns: `${s.prefix}B` },
      );
      assert.match(await s.type('flows', /OUT OF SYNC/), /fe00::1/);
      assert.match(
        await s.type('reconcile', /1 difference\(s\) found, repaired:\n {2}- .*fe00::1/),
        /repaired/,
      );
      assert.match(await s.type('status', /drift: none/), /ok \(fc02::2\)/);
      assert.match(await s.type('evacuate D C', /1 flow\(s\) moved D → C/), /ms/);
      assert.match(await s.type('serve --port 0', /bad port '0'/), /usage: serve/);
      assert.match(
        await s.type(
          'serve C --port 7007',
          /C: flowmig serve \(echo\) on \[fc01::1\]:7007, pid \d+/,
        ),
        /control/,
      );
      assert.match(await s.type('status', /flowmig serve on C: echo on \[fc01::1\]:7007/), /pid/);
      assert.match(await s.type('serve --stop', /lab \S+: 1 server runtime\(s\) stopped/), /1/);
      s.child.stdin.write('quit\n');
      assert.equal(await s.closed, 0);
      assert.match(s.output(), /torn down/);
      assert.deepEqual(await namespacesWith(s.prefix), []);
    });
  });

  it('Ctrl-D (end of input) tears the lab down', async () => {
    await session([], async (s) => {
      s.child.stdin.end();
      assert.equal(await s.closed, 0);
      assert.deepEqual(await namespacesWith(s.prefix), []);
    });
  });

  it('Ctrl-C (SIGINT) tears the lab down', async () => {
    await session([], async (s) => {
      s.child.kill('SIGINT');
      assert.equal(await s.closed, 130);
      assert.match(s.output(), /torn down/);
      assert.deepEqual(await namespacesWith(s.prefix), []);
    });
  });

  it('--keep leaves the lab up for other terminals', async () => {
    await session(['--keep'], async (s) => {
      s.child.stdin.write('quit\n');
      assert.equal(await s.closed, 0);
      assert.match(s.output(), /left up/);
      assert.equal((await namespacesWith(s.prefix)).length, 4);
      const swap = await cli(['swap'], { stateDir: s.stateDir });
      assert.equal(swap.code, 0, swap.stderr);
      const down = await cli(['down'], { stateDir: s.stateDir });
      assert.equal(down.code, 0, down.stderr);
      assert.deepEqual(await namespacesWith(s.prefix), []);
    });
  });
});
