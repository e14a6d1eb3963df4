// Text rendering for the terminal: aligned tables, status and migration lines, a progress line.
import type {
  EvacuationResult,
  LabStatus,
  MigrationResult,
  ReconcileResult,
} from '../control/flowmig.js';
import type { LabPresence } from '../control/presence.js';
import type { ServerHandle } from '../control/serve-process.js';

/** Left-aligned columns separated by two spaces; first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, cell.length);
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function renderMigration(r: MigrationResult): string {
  if (!r.changed) return `flow ${r.flow} is already on ${r.to}; nothing changed`;
  const line =
    `flow ${r.flow}: ${r.from} → ${r.to} in ${r.totalMs.toFixed(r.totalMs < 10 ? 3 : 1)} ms via ${r.path} ` +
    `(rule ${r.ruleMs.toFixed(3)} ms, conntrack ${r.conntrackMs.toFixed(3)} ms, ` +
    `${r.conntrackDeleted} entr${r.conntrackDeleted === 1 ? 'y' : 'ies'} deleted)`;
  const lines = [line, ...(r.note ? [`note: ${r.note}`] : [])];
  if (r.tcp) lines.push(renderLiveTcp(r.tcp));
  return lines.join('\n');
}

/** How a flow's TCP connections moved with it: counts, then each step's time. */
export function renderLiveTcp(t: NonNullable<MigrationResult['tcp']>): string {
  const held = t.heldPackets === undefined ? '' : `, ${t.heldPackets} packet(s) held`;
  const lines = [
    `tcp: ${t.moved} connection(s) moved in ${t.totalMs.toFixed(3)} ms${held}` +
      (t.failed.length ? `; ${t.failed.length} not moved (reset)` : ''),
  ];
  if (t.steps.length)
    lines.push(
      `  steps: ${t.steps.map((s) => `${s.name} ${s.durationMs.toFixed(3)} ms`).join(', ')}`,
    );
  for (const f of t.failed) lines.push(`  not moved: ${f.id}: ${f.reason}`);
  if (t.note) lines.push(`  note: ${t.note}`);
  return lines.join('\n');
}

/** An evacuation: how many flows moved, and each step's time. */
export function renderEvacuation(r: EvacuationResult): string {
  if (r.moved === 0) return `lab ${r.lab}: no flow is served by ${r.from}; nothing moved`;
  return (
    `${r.moved} flow(s) moved ${r.from} → ${r.to} in ${r.totalMs.toFixed(3)} ms via ${r.path} ` +
    `(rule ${r.ruleMs.toFixed(3)} ms, conntrack ${r.conntrackMs.toFixed(3)} ms, ${r.conntrackDeleted} entries deleted)` +
    (r.note ? `\nnote: ${r.note}` : '')
  );
}

/** What reconcile found in the translator, and whether it matches the desired table now. */
export function renderReconcile(r: ReconcileResult): string {
  if (!r.drift.length) return `lab ${r.lab}: the translator matches the desired flow table`;
  const list = (items: readonly string[]) => items.map((d) => `  - ${d}`).join('\n');
  return (
    `lab ${r.lab}: ${r.drift.length} difference(s) found${r.repaired ? ', repaired' : ', NOT repaired'}:\n${list(r.drift)}` +
    (r.remaining?.length ? `\nstill:\n${list(r.remaining)}` : '')
  );
}

/** Server runtimes started, one line each; `repairUnavailable`: why connections cannot move. */
export function renderServe(
  handles: readonly ServerHandle[],
  repairUnavailable: string | undefined,
): string {
  return [
    ...handles.map(
      (h) =>
        `${h.node}: flowmig serve (${h.mode}) on [${h.address}]:${h.port}, pid ${h.pid}, control ${h.socket}`,
    ),
    ...(repairUnavailable ? [`warning: connections cannot move: ${repairUnavailable}`] : []),
  ].join('\n');
}

export function renderServeStopped(lab: string, stopped: number): string {
  return `lab ${lab}: ${stopped} server runtime(s) stopped`;
}

/** Labs found on this machine (`status` with no lab named): state, namespaces, processes. */
export function renderLabs(labs: readonly LabPresence[]): string {
  if (labs.length === 0) return "no lab is up (start one with 'flowmig up')";
  const lines = labs.map((l) => {
    const state =
      l.state === 'ok'
        ? `up, state ${l.stateFile}`
        : l.state === 'damaged'
          ? `STATE DAMAGED (${l.stateFile})`
          : `STATE LOST (no ${l.stateFile})`;
    const ns = l.namespaces.length ? `namespaces ${l.namespaces.join(', ')}` : 'no namespace';
    const procs = l.processes.map((p) => `${p.kind} pid ${p.pid}`).join(', ');
    const fix = l.state === 'ok' ? '' : `; 'flowmig down --lab ${l.id}' removes it`;
    const kind = l.kind === 'cluster' ? 'cluster lab, ' : '';
    return `  ${l.id}: ${kind}${state}; ${ns}${procs ? `; ${procs}` : ''}${fix}`;
  });
  const head =
    labs.length === 1 ? '1 lab:' : `${labs.length} labs (name one with --lab for its status):`;
  return [head, ...lines].join('\n');
}

/** Flows `flowmig flows` shows when no --limit is given. */
export const FLOWS_PAGE = 100;
/** Flows `flowmig status` shows; the rest are counted (`flowmig flows` pages them). */
export const STATUS_FLOWS = 20;
/** Drift lines, former responders and draining flows `flowmig status` lists before counting. */
const STATUS_ITEMS = 5;

export interface FlowPage {
  /** The first flow shown, from 0 (default 0). */
  readonly offset?: number;
  /** How many flows are shown (default FLOWS_PAGE). */
  readonly limit?: number;
}

const count = (n: number) => n.toLocaleString('en');

/** The first `max` items joined, and how many more there are (`more`: what to do about them). */
function firstOf(items: readonly string[], max: number, sep: string, more: string): string {
  if (items.length <= max) return items.join(sep);
  return `${items.slice(0, max).join(sep)}${sep}… and ${count(items.length - max)} more (${more})`;
}

function flowRows(s: LabStatus, from: number, to: number): string[][] {
  return s.flows
    .slice(from, to)
    .map((f) => [
      f.address,
      f.name ?? '-',
      f.initiator,
      f.responder,
      f.inSync ? `ok (${f.kernelResponder})` : `OUT OF SYNC (${f.kernelResponder ?? 'no mapping'})`,
      String(f.conntrackEntries),
    ]);
}

const FLOW_HEADER = ['FLOW', 'NAME', 'INITIATOR', 'RESPONDER', 'KERNEL', 'CONNTRACK'];

/**
 * One page of the flows table, and when the page is not all of them, a line saying which flows it
 * shows and how to see the others.
 */
export function renderFlows(s: LabStatus, page: FlowPage = {}): string {
  const total = s.flows.length;
  const from = Math.max(0, page.offset ?? 0);
  const to = Math.min(total, from + Math.max(0, page.limit ?? FLOWS_PAGE));
  const rows = table([FLOW_HEADER, ...flowRows(s, from, to)]);
  if (from === 0 && to === total) return rows;
  if (from >= total)
    return `${rows}
no flow at offset ${count(from)}: the lab has ${count(total)} flow(s)`;
  const next = to < total ? `--offset ${to} for the next page, ` : '';
  return `${rows}
flows ${count(from + 1)}-${count(to)} of ${count(total)}; ${next}--limit N for longer pages, --json for all`;
}

/** How many flows there are, how many agree with the kernel, their conntrack entries. */
export function flowSummary(s: LabStatus): string {
  let inSync = 0;
  let entries = 0;
  for (const f of s.flows) {
    if (f.inSync) inSync++;
    entries += f.conntrackEntries;
  }
  const out = s.flows.length - inSync;
  const sync =
    out === 0
      ? s.flows.length
        ? 'all in sync'
        : 'none'
      : `${count(inSync)} in sync, ${count(out)} OUT OF SYNC`;
  return `${count(s.flows.length)} (${sync}), ${count(entries)} conntrack entr${entries === 1 ? 'y' : 'ies'}`;
}

export function renderStatus(s: LabStatus): string {
  const indexed = (n: number | undefined) =>
    n === undefined
      ? 'conntrack indexed from its first migration'
      : `${n} conntrack entries indexed`;
  const head = [
    `lab ${s.id}: ${s.phase}, engine ${s.engine}, ${s.migrations} migration(s)`,
    `  built by pid ${s.pid} (${s.pidAlive ? 'running' : 'gone'}) at ${s.createdAt}; state ${s.stateFile}`,
    `  translator table: ${s.translatorInstalled ? 'installed' : 'MISSING'}`,
    `  control path: ${
      s.controlPath.kind === 'agent'
        ? `agent (pid ${s.controlPath.pid}, netlink, ${indexed(s.controlPath.conntrackIndexed)})`
        : s.controlPath.kind === 'in-process'
          ? `in-process (netlink from this controller, ${indexed(s.controlPath.conntrackIndexed)})`
          : `programs (${s.controlPath.reason})`
    }`,
  ];
  const former = firstOf(
    s.late.former.map(
      (f) => `${f.responderAddress} for ${f.address} (${(f.expiresMs / 1000).toFixed(0)} s left)`,
    ),
    STATUS_ITEMS,
    ', ',
    '--json for all',
  );
  head.push(
    `  late packets: ${s.late.installed ? `${s.late.translated.toLocaleString('en')} translated${s.late.afterConntrack ? ` (${s.late.afterConntrack.toLocaleString('en')} after conntrack)` : ''}; grace ${(s.late.graceMs / 1000).toFixed(1)} s; former responders: ${former || 'none'}` : 'table MISSING'}`,
  );
  head.push(
    `  daemon: ${s.daemon ? `pid ${s.daemon.pid} (${s.daemon.running ? 'running' : 'NOT RUNNING'}), socket ${s.daemon.socket}` : 'none'}`,
    `  drift: ${
      s.drift.length === 0
        ? 'none (the translator matches the desired flow table)'
        : s.drift.length <= STATUS_ITEMS
          ? s.drift.join('; ')
          : `${count(s.drift.length)} differences: ${firstOf(s.drift, STATUS_ITEMS, '; ', "'flowmig reconcile' repairs them, --json lists all")}`
    }`,
    `  flows: ${flowSummary(s)}`,
  );
  const draining: string[] = [];
  for (const f of s.flows) {
    if (f.drains.length === 0 && Object.keys(f.draining).length === 0) continue;
    const nodes = new Set([...Object.keys(f.draining), ...f.drains.map((d) => d.responder)]);
    for (const node of nodes) {
      const ends = f.drains.find((d) => d.responder === node);
      draining.push(
        `  draining: flow ${f.address} on ${node}: ${f.draining[node] ?? 0} TCP connection(s)${ends ? `, drain ends in ${(ends.endsInMs / 1000).toFixed(1)} s` : ''}`,
      );
    }
  }
  head.push(...draining.slice(0, STATUS_ITEMS));
  if (draining.length > STATUS_ITEMS)
    head.push(`  … and ${count(draining.length - STATUS_ITEMS)} more draining (--json for all)`);
  for (const v of s.servers ?? [])
    head.push(
      `  flowmig serve on ${v.node}: ${v.mode} on [${v.address}]:${v.port}, pid ${v.pid}${v.running ? `, ${v.connections ?? '?'} connection(s)` : ' (NOT RUNNING)'}`,
    );
  if (s.lastMigration) {
    const m = s.lastMigration;
    head.push(
      `  last migration: ${m.flow} ${m.from} → ${m.to} at ${m.at} (${m.totalMs.toFixed(1)} ms)`,
    );
  }
  const nodes = table([
    ['NODE', 'ROLE', 'NAMESPACE', 'STATE'],
    ...s.nodes.map((n) => [
      n.name,
      n.role,
      n.netns,
      n.present ? (n.owned ? 'up' : 'present, NOT MARKED as this lab') : 'MISSING',
    ]),
  ]);
  const more = s.flows.length - STATUS_FLOWS;
  const flows =
    more > 0
      ? `${table([FLOW_HEADER, ...flowRows(s, 0, STATUS_FLOWS)])}\n… and ${count(more)} more; 'flowmig flows' pages them, --json for all`
      : renderFlows(s);
  return [...head, '', nodes, '', flows].join('\n');
}

/**
 * A one-line progress display, redrawn in place on a terminal. Elsewhere (a log) every line that
 * says something new is printed, and a line that only repeats the last one with new numbers (a
 * counter) at most once every 2 s.
 */
export class Progress {
  private lastPrinted = 0;
  private lastShape = '';
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly enabled: boolean,
  ) {}

  update(text: string): void {
    if (!this.enabled) return;
    if (this.stream.isTTY) {
      this.stream.write(`\r\x1b[2K${text}`);
      return;
    }
    const shape = text.replace(/\d+(\.\d+)?/g, '#');
    const now = Date.now();
    if (shape !== this.lastShape || now - this.lastPrinted >= 2_000) {
      this.lastShape = shape;
      this.lastPrinted = now;
      this.stream.write(`${text}\n`);
    }
  }

  done(text?: string): void {
    if (!this.enabled) return;
    if (this.stream.isTTY) this.stream.write('\r\x1b[2K');
    if (text) this.stream.write(`${text}\n`);
  }
}
