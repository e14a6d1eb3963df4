// What an experiment runs on: a lab's nodes and where they are, and the controller that builds it,
// swaps its flows and tears it down. A single-host lab (one translator, the Flowmig controller) is
// one kind of testbed; a cluster lab (a translator per host, changes through etcd) is the other
// (cluster-bed.ts). The runner, its observers and traffic kinds see only this.
import type { Flowmig } from '../control/flowmig.js';
import type { Runner } from '../exec/runner.js';
import type { FlowPolicy, Lab, LabFlow, LabLink, LabNode } from '../lab/model.js';
import type { EngineName } from '../lab/schema.js';

export interface TestbedLab {
  readonly id: string;
  readonly engine: EngineName;
  /** Grace time of former responders' late packets. */
  readonly graceMs: number;
  /** Every node, in file order (all hosts' for a cluster lab). */
  readonly nodes: readonly LabNode[];
  /** Every node's link to its translator (all hosts'). */
  readonly links: readonly LabLink[];
  /** The flows as described (initial responders). */
  readonly flows: readonly LabFlow[];
  readonly policies: ReadonlyMap<string, FlowPolicy>;
  /** Every translator: one, or one per host. */
  readonly translators: readonly LabNode[];
  /** Node name → its host's name; empty for a single-host lab. */
  readonly hostOf: ReadonlyMap<string, string>;
  /** The translator a node's traffic enters by (holds the conntrack entries of its flows). */
  translatorOf(node: string): LabNode;
}

/** One swap as the runner records it. */
export interface SwapOutcome {
  readonly from: string;
  readonly to: string;
  /** Epoch ms the change itself began (after the controller's lock); undefined: when issued. */
  readonly startedMs: number | undefined;
  /**
   * The change's two phases: single-host, the NAT rule, then the flow's conntrack entries;
   * cluster, the etcd commit (from the call), then commit → applied on every live translator.
   */
  readonly ruleMs: number;
  readonly conntrackMs: number;
  readonly totalMs: number;
  /** Conntrack entries deleted (single-host: the controller counts them). */
  readonly conntrackDeleted?: number;
  /** How the change reached the datapath. */
  readonly path: string;
  readonly tcp?: { readonly moved: number; readonly totalMs: number };
}

export interface Testbed {
  readonly lab: TestbedLab;
  readonly runner: Runner;
  /** Root, and the programs the lab and the run need (before anything is built). */
  check(programs: readonly string[]): Promise<void>;
  up(onStep: (text: string, i: number, n: number) => void): Promise<void>;
  down(): Promise<void>;
  swap(flow: string): Promise<SwapOutcome>;
  /** The flow's current responder (node name). */
  responder(flow: string): Promise<string | undefined>;
  /** Read after the traffic: how changes reach the datapath, late packets translated so far. */
  summary(): Promise<{ readonly controlPath: string; readonly lateTranslated: number }>;
  /** Starts the live-TCP server runtime (echo) on every server (flows with `tcp: migrate`). */
  serveEcho(port: number): Promise<void>;
}

/** A single-host lab driven by the Flowmig controller. */
export function singleHostBed(fm: Flowmig, lab: Lab): Testbed {
  const id = lab.id;
  return {
    lab: {
      ...lab,
      translators: [lab.translator],
      hostOf: new Map(),
      translatorOf: () => lab.translator,
    },
    runner: fm.runner,
    check: (programs) => fm.check(lab, programs),
    up: async (onStep) => {
      await fm.up(lab, { onStep });
    },
    down: async () => {
      await fm.down(id);
    },
    swap: async (flow) => {
      const r = await fm.swap(id, flow);
      return {
        from: r.from,
        to: r.to,
        startedMs: r.steps[0]?.startedAt,
        ruleMs: r.ruleMs,
        conntrackMs: r.conntrackMs,
        totalMs: r.totalMs,
        conntrackDeleted: r.conntrackDeleted,
        path: r.path,
        ...(r.tcp ? { tcp: { moved: r.tcp.moved, totalMs: r.tcp.totalMs } } : {}),
      };
    },
    responder: async (flow) => (await fm.flows(id)).find((f) => f.address === flow)?.responder,
    summary: async () => {
      const s = await fm.status(id);
      return {
        controlPath:
          s.controlPath.kind === 'programs'
            ? `programs (${s.controlPath.reason})`
            : s.controlPath.kind,
        lateTranslated: s.late.translated,
      };
    },
    serveEcho: async (port) => {
      await fm.serve(id, { port, mode: 'echo' });
    },
  };
}
