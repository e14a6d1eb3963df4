import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  FLOWS_PAGE,
  Progress,
  renderEvacuation,
  renderFlows,
  renderLabs,
  renderMigration,
  renderStatus,
  STATUS_FLOWS,
  table,
} from '../../src/cli/render.js';
import type { EvacuationResult, LabStatus, MigrationResult } from '../../src/control/flowmig.js';
import type { LabPresence } from '../../src/control/presence.js';

describe('table', () => {
  it('aligns columns, two spaces apart, last column unpadded', () => {
    assert.equal(
      table([
        ['NODE', 'ROLE', 'NAMESPACE'],
        ['A', 'client', 't1-A'],
        ['B', 'translator', 't1-B'],
      ]),
      ['NODE  ROLE        NAMESPACE', 'A     client      t1-A', 'B     translator  t1-B'].join(
        '\n',
      ),
    );
  });

  it('starts every column at the same offset on every row', () => {
    const rows = [
      ['FLOW', 'NAME', 'RESPONDER'],
      ['fe00::1', '-', 'C'],
      ['fe00:1234::abcd', 'web-frontend', 'D'],
    ];
    const lines = table(rows).split('\n');
    // Every cell text is unique within its line, so indexOf finds where its column starts.
    const starts = lines.map((line, r) => (rows[r] ?? []).map((cell) => line.indexOf(cell)));
    for (const s of starts) assert.deepEqual(s, starts[0]);
    assert.deepEqual(starts[0], [0, 17, 31]);
  });

  it('trims trailing spaces and handles short rows and no rows', () => {
    assert.equal(
      table([
        ['A', 'B'],
        ['long', ''],
      ]),
      'A     B\nlong',
    );
    assert.equal(table([['A', 'B', 'C'], ['x']]), 'A  B  C\nx');
    assert.equal(table([]), '');
  });
});

const BASE: MigrationResult = {
  lab: 'default',
  flow: 'fe00::1',
  role: 'responder',
  from: 'C',
  to: 'D',
  changed: true,
  totalMs: 12.345,
  ruleMs: 8.04,
  conntrackMs: 4.26,
  conntrackDeleted: 1,
  path: 'programs',
  note: undefined,
  steps: [],
};

describe('renderMigration', () => {
  it('says where the flow went, how long it took, how, and what conntrack deleted', () => {
    const text = renderMigration(BASE);
    assert.ok(!text.includes('\n'), 'one line');
    assert.match(
      text,
      /^flow fe00::1: C → D in 12\.3 ms via programs \(rule 8\.04\d? ms, conntrack 4\.26\d? ms, 1 entry deleted\)$/,
    );
  });

  it('uses the plural for 0 and several entries', () => {
    assert.match(renderMigration({ ...BASE, conntrackDeleted: 0 }), /, 0 entries deleted\)$/);
    assert.match(renderMigration({ ...BASE, conntrackDeleted: 2 }), /, 2 entries deleted\)$/);
  });

  it('names the initiator move the same way', () => {
    assert.match(
      renderMigration({ ...BASE, role: 'initiator', from: 'A', to: 'E' }),
      /^flow fe00::1: A → E in /,
    );
  });

  it('adds a note on its own line when there is one', () => {
    const text = renderMigration({ ...BASE, note: 'agent restarted' });
    assert.deepEqual(text.split('\n').slice(1), ['note: agent restarted']);
  });

  it('says nothing changed when the flow was already there', () => {
    assert.equal(
      renderMigration({ ...BASE, changed: false, from: 'C', to: 'C', totalMs: 0 }),
      'flow fe00::1 is already on C; nothing changed',
    );
  });
});

const STATUS: LabStatus = {
  id: 't1-default',
  prefix: 't1-',
  phase: 'up',
  engine: 'iptables',
  pid: 4242,
  pidAlive: true,
  createdAt: '2026-01-01T00:00:00.000Z',
  stateFile: '/run/flowmig/t1-default.json',
  nodes: [
    { name: 'A', role: 'client', netns: 't1-A', present: true, owned: true },
    { name: 'B', role: 'translator', netns: 't1-B', present: true, owned: false },
    { name: 'C', role: 'server', netns: 't1-C', present: false, owned: false },
  ],
  flows: [
    {
      name: 'web',
      address: 'fe00::1',
      initiator: 'A',
      responder: 'D',
      kernelResponder: 'fc02::2',
      inSync: true,
      conntrackEntries: 2,
      draining: {},
      drains: [],
    },
    {
      name: undefined,
      address: 'fe00::2',
      initiator: 'A',
      responder: 'C',
      kernelResponder: 'fc02::2',
      inSync: false,
      conntrackEntries: 0,
      draining: {},
      drains: [],
    },
    {
      name: undefined,
      address: 'fe00::3',
      initiator: 'A',
      responder: 'C',
      kernelResponder: undefined,
      inSync: false,
      conntrackEntries: 0,
      draining: {},
      drains: [],
    },
  ],
  translatorInstalled: true,
  controlPath: { kind: 'programs', reason: 'engine iptables has no fast path' },
  migrations: 3,
  lastMigration: {
    flow: 'fe00::1',
    from: 'C',
    to: 'D',
    at: '2026-01-01T00:00:05.000Z',
    totalMs: 1.25,
    ruleMs: 1,
    conntrackMs: 0.25,
    conntrackDeleted: 1,
  },
  servers: [],
  late: {
    installed: true,
    graceMs: 5000,
    translated: 3,
    afterConntrack: 1,
    former: [{ address: 'fe00::1', responderAddress: 'fc01::1', expiresMs: 4200 }],
  },
  drift: ['flow fe00::2 maps fc00::1 → fc02::2, not fc00::1 → fc01::1'],
  daemon: { pid: 5151, socket: '/run/flowmig/t1-default.sock', running: true },
};

describe('renderFlows and renderStatus', () => {
  it('shows each flow with its kernel mapping, flagging the out-of-sync ones', () => {
    assert.equal(
      renderFlows(STATUS),
      [
        'FLOW     NAME  INITIATOR  RESPONDER  KERNEL                    CONNTRACK',
        'fe00::1  web   A          D          ok (fc02::2)              2',
        'fe00::2  -     A          C          OUT OF SYNC (fc02::2)     0',
        'fe00::3  -     A          C          OUT OF SYNC (no mapping)  0',
      ].join('\n'),
    );
  });

  it('shows the lab, the last migration, and each node’s state', () => {
    const text = renderStatus(STATUS);
    const lines = text.split('\n');
    assert.equal(lines[0], 'lab t1-default: up, engine iptables, 3 migration(s)');
    assert.match(
      text,
      /built by pid 4242 \(running\) at 2026-01-01T00:00:00\.000Z; state \/run\/flowmig\/t1-default\.json/,
    );
    assert.match(text, /translator table: installed$/m);
    assert.match(text, /engine iptables has no fast path/);
    assert.match(text, /last migration: fe00::1 C → D at 2026-01-01T00:00:05\.000Z \(1\.3 ms\)/);
    assert.match(text, /^A +client +t1-A +up$/m);
    assert.match(text, /^B +translator +t1-B +present, NOT MARKED as this lab$/m);
    assert.match(text, /^C +server +t1-C +MISSING$/m);
    assert.match(
      text,
      /late packets: 3 translated \(1 after conntrack\); grace 5\.0 s; former responders: fc01::1 for fe00::1 \(4 s left\)/,
    );
    assert.match(text, /daemon: pid 5151 \(running\), socket \/run\/flowmig\/t1-default\.sock$/m);
    assert.match(text, /drift: flow fe00::2 maps fc00::1 → fc02::2, not fc00::1 → fc01::1$/m);
    assert.ok(text.endsWith(renderFlows(STATUS)));
  });

  it('control path: the agent or in-process, with what is indexed or from when it will be', () => {
    const line = (controlPath: LabStatus['controlPath']) =>
      renderStatus({ ...STATUS, controlPath })
        .split('\n')
        .find((l) => l.includes('control path:'));
    assert.equal(
      line({ kind: 'agent', pid: 77, conntrackIndexed: 12 }),
      '  control path: agent (pid 77, netlink, 12 conntrack entries indexed)',
    );
    assert.equal(
      line({ kind: 'agent', pid: 77, conntrackIndexed: undefined }),
      '  control path: agent (pid 77, netlink, conntrack indexed from its first migration)',
    );
    assert.equal(
      line({ kind: 'in-process', conntrackIndexed: 0 }),
      '  control path: in-process (netlink from this controller, 0 conntrack entries indexed)',
    );
    assert.equal(
      line({ kind: 'in-process', conntrackIndexed: undefined }),
      '  control path: in-process (netlink from this controller, conntrack indexed from its first migration)',
    );
  });

  it('says when the builder is gone, the table is missing, and there was no migration', () => {
    const text = renderStatus({
      ...STATUS,
      pidAlive: false,
      translatorInstalled: false,
      migrations: 0,
      lastMigration: undefined,
      drift: [],
      daemon: { pid: 5151, socket: '/run/flowmig/t1-default.sock', running: false },
      late: { installed: false, graceMs: 5000, translated: 0, afterConntrack: 0, former: [] },
    });
    assert.match(text, /daemon: pid 5151 \(NOT RUNNING\)/);
    assert.match(text, /drift: none/);
    assert.match(text, /late packets: table MISSING/);
    assert.match(text, /\(gone\)/);
    assert.match(text, /translator table: MISSING/);
    assert.doesNotMatch(text, /last migration/);
  });
});

/** A lab of `n` flows: flow i on C, every tenth out of sync, flow 0 draining one connection. */
function bigStatus(n: number): LabStatus {
  const flows = Array.from({ length: n }, (_, i): LabStatus['flows'][number] => ({
    name: undefined,
    address: `fe00::${(i + 1).toString(16)}`,
    initiator: 'A',
    responder: 'C',
    kernelResponder: i % 10 === 9 ? 'fc02::2' : 'fc01::1',
    inSync: i % 10 !== 9,
    conntrackEntries: i < 3 ? 1 : 0,
    draining: i < 8 ? { D: 1 } : {},
    drains: [],
  }));
  return {
    ...STATUS,
    flows,
    drift: flows.filter((f) => !f.inSync).map((f) => `flow ${f.address} maps A → fc02::2`),
    late: {
      ...STATUS.late,
      former: flows.map((f) => ({
        address: f.address,
        responderAddress: 'fc02::2',
        expiresMs: 1000,
      })),
    },
  };
}

describe('large labs: status summarised, flows paged', () => {
  const big = bigStatus(250);

  it('flows: the first page of 100 by default, then how to see the rest', () => {
    const lines = renderFlows(big).split('\n');
    assert.equal(lines.length, 1 + FLOWS_PAGE + 1);
    assert.match(lines[1] ?? '', /^fe00::1 /);
    assert.match(lines[100] ?? '', /^fe00::64 /);
    assert.equal(
      lines.at(-1),
      'flows 1-100 of 250; --offset 100 for the next page, --limit N for longer pages, --json for all',
    );
  });

  it('flows: any page by offset and limit; the last says no next page; past the end says so', () => {
    const middle = renderFlows(big, { offset: 100, limit: 10 }).split('\n');
    assert.equal(middle.length, 12);
    assert.match(middle[1] ?? '', /^fe00::65 /);
    assert.equal(
      middle.at(-1),
      'flows 101-110 of 250; --offset 110 for the next page, --limit N for longer pages, --json for all',
    );
    const last = renderFlows(big, { offset: 240 }).split('\n');
    assert.equal(last.length, 12);
    assert.equal(last.at(-1), 'flows 241-250 of 250; --limit N for longer pages, --json for all');
    assert.equal(
      renderFlows(big, { offset: 250 }),
      `${renderFlows({ ...big, flows: [] })}\nno flow at offset 250: the lab has 250 flow(s)`,
    );
    // All of them on one page: the table alone, as for a small lab.
    assert.equal(renderFlows(big, { limit: 250 }).split('\n').length, 251);
  });

  it('status: counts, the first drift lines, former responders and draining flows, 20 flows', () => {
    const text = renderStatus(big);
    assert.match(text, /^ {2}flows: 250 \(225 in sync, 25 OUT OF SYNC\), 3 conntrack entries$/m);
    assert.match(
      text,
      /^ {2}drift: 25 differences: flow fe00::a maps A → fc02::2; (flow [^;]+; ){3}flow fe00::32 maps A → fc02::2; … and 20 more \('flowmig reconcile' repairs them, --json lists all\)$/m,
    );
    assert.match(
      text,
      /former responders: fc02::2 for fe00::1 \(1 s left\), (.+, ){3}fc02::2 for fe00::5 \(1 s left\), … and 245 more \(--json for all\)$/m,
    );
    assert.equal(text.match(/^ {2}draining: /gm)?.length, 5);
    assert.match(text, /^ {2}… and 3 more draining \(--json for all\)$/m);
    const table = text.slice(text.lastIndexOf('FLOW '));
    const rows = table.split('\n');
    assert.equal(rows.length, 1 + STATUS_FLOWS + 1);
    assert.match(rows[STATUS_FLOWS] ?? '', /^fe00::14 /);
    assert.equal(rows.at(-1), "… and 230 more; 'flowmig flows' pages them, --json for all");
  });

  it('status of a small lab: every flow and every drift line', () => {
    const text = renderStatus(bigStatus(20));
    assert.ok(text.endsWith(renderFlows(bigStatus(20))));
    assert.doesNotMatch(text, /more; 'flowmig flows'|differences:/);
    assert.match(text, /^ {2}flows: 20 \(18 in sync, 2 OUT OF SYNC\), 3 conntrack entries$/m);
    assert.match(
      text,
      /^ {2}drift: flow fe00::a maps A → fc02::2; flow fe00::14 maps A → fc02::2$/m,
    );
    assert.match(
      renderStatus({ ...STATUS, flows: [] }),
      /^ {2}flows: 0 \(none\), 0 conntrack entries$/m,
    );
  });
});

/** A stand-in for process.stderr that keeps what is written. */
function stream(isTTY: boolean): { written: string[]; stream: NodeJS.WriteStream } {
  const written: string[] = [];
  const fake = {
    isTTY,
    write: (chunk: string) => {
      written.push(chunk);
      return true;
    },
  };
  return { written, stream: fake as unknown as NodeJS.WriteStream };
}

describe('renderEvacuation', () => {
  const base: EvacuationResult = {
    lab: 't1-default',
    from: 'C',
    to: 'D',
    moved: 0,
    totalMs: 0,
    ruleMs: 0,
    conntrackMs: 0,
    conntrackDeleted: 0,
    path: 'programs',
    note: undefined,
  };

  it('says that nothing moved, without timings or a path, when no flow was served by FROM', () => {
    assert.equal(renderEvacuation(base), 'lab t1-default: no flow is served by C; nothing moved');
  });

  it('gives the count, timings and path when flows moved', () => {
    const text = renderEvacuation({ ...base, moved: 3, totalMs: 0.5, path: 'in-process' });
    assert.match(text, /^3 flow\(s\) moved C → D in 0\.500 ms via in-process/);
  });
});

describe('renderLabs', () => {
  const lab = (over: Partial<LabPresence>): LabPresence => ({
    id: 't1-default',
    state: 'ok',
    stateFile: '/run/flowmig/t1-default.json',
    namespaces: ['t1-A', 't1-B'],
    processes: [],
    here: true,
    ...over,
  });

  it('says when no lab is up', () => {
    assert.equal(renderLabs([]), "no lab is up (start one with 'flowmig up')");
  });

  it('names a lost or damaged state, what is left of the lab, and how to remove it', () => {
    const text = renderLabs([
      lab({ processes: [{ kind: 'daemon', pid: 7 }] }),
      lab({ id: 't2-default', state: 'lost', stateFile: '/run/flowmig/t2-default.json' }),
      lab({ id: 't3-default', state: 'damaged', namespaces: [] }),
    ]);
    const lines = text.split('\n');
    assert.match(lines[0] ?? '', /^3 labs \(name one with --lab/);
    assert.match(lines[1] ?? '', /t1-default: up, state .*; namespaces t1-A, t1-B; daemon pid 7$/);
    assert.match(
      lines[2] ?? '',
      /t2-default: STATE LOST \(no .*\); .*'flowmig down --lab t2-default' removes it$/,
    );
    assert.match(
      lines[3] ?? '',
      /t3-default: STATE DAMAGED .*; no namespace; 'flowmig down --lab t3-default'/,
    );
  });
});

describe('Progress', () => {
  it('on a terminal redraws one line in place and clears it when done', () => {
    const out = stream(true);
    const p = new Progress(out.stream, true);
    p.update('building lab [1/31]');
    p.update('building lab [2/31]');
    p.done('lab t1-default is up');
    assert.deepEqual(out.written, [
      '\r\x1b[2Kbuilding lab [1/31]',
      '\r\x1b[2Kbuilding lab [2/31]',
      '\r\x1b[2K',
      'lab t1-default is up\n',
    ]);
  });

  it('elsewhere prints every new line, and a counter repeating with new numbers sparsely', () => {
    const out = stream(false);
    const p = new Progress(out.stream, true);
    p.update('swap 1/10 · 0.1s');
    p.update('swap 2/10 · 0.25s');
    p.update('swap 3/10 · 0.4s');
    p.update('phase 2/2 (loaded): starting Prometheus');
    p.update('phase 2/2 (loaded): 300 swaps');
    p.update('tearing the lab down');
    p.done();
    // Within 2 s the counter's repeats are left out; a line saying something new never is.
    assert.deepEqual(out.written, [
      'swap 1/10 · 0.1s\n',
      'phase 2/2 (loaded): starting Prometheus\n',
      'phase 2/2 (loaded): 300 swaps\n',
      'tearing the lab down\n',
    ]);
  });

  it('elsewhere prints a counter again once 2 s have passed', (t) => {
    t.mock.timers.enable({ apis: ['Date'], now: 0 });
    const out = stream(false);
    const p = new Progress(out.stream, true);
    p.update('swap 1/10');
    t.mock.timers.tick(1_999);
    p.update('swap 2/10');
    t.mock.timers.tick(1);
    p.update('swap 3/10');
    assert.deepEqual(out.written, ['swap 1/10\n', 'swap 3/10\n']);
  });

  it('prints nothing when disabled (e.g. --json)', () => {
    const out = stream(true);
    const p = new Progress(out.stream, false);
    p.update('x');
    p.done('y');
    assert.deepEqual(out.written, []);
  });
});
