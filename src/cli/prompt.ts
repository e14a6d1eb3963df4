// The interactive prompt of `flowmig up`: reads commands line by line and acts on the lab through
// its actions: a single-host lab's controller here, a cluster lab's host daemons (cluster-prompt.ts).
import { createInterface } from 'node:readline';
import type { Flowmig } from '../control/flowmig.js';
import type { ServeMode } from '../control/serve-process.js';
import { FlowmigError } from '../errors.js';
import { tcpRepairUnavailable } from '../tcp-repair/native.js';
import { PROMPT_HELP, parsePromptLine } from './prompt-line.js';
import {
  renderEvacuation,
  renderFlows,
  renderMigration,
  renderReconcile,
  renderServe,
  renderServeStopped,
  renderStatus,
} from './render.js';

export type PromptEnd = 'quit' | 'eof' | 'interrupt';

export interface PromptIo {
  readonly input: NodeJS.ReadableStream & { isTTY?: boolean };
  readonly output: NodeJS.WritableStream;
}

/** What each prompt command does on a lab, answered as the text to print. */
export interface PromptActions {
  swap(flow: string | undefined): Promise<string>;
  migrate(flow: string, node: string): Promise<string>;
  evacuate(from: string, to: string): Promise<string>;
  reconcile(): Promise<string>;
  serve(nodes: readonly string[], port?: number, mode?: ServeMode): Promise<string>;
  unserve(nodes: readonly string[]): Promise<string>;
  status(): Promise<string>;
  flows(): Promise<string>;
}

/** A single-host lab's actions: its controller's. */
export function labActions(fm: Flowmig, id: string): PromptActions {
  return {
    swap: async (flow) => renderMigration(await fm.swap(id, flow)),
    migrate: async (flow, node) => renderMigration(await fm.migrate(id, flow, node)),
    evacuate: async (from, to) => renderEvacuation(await fm.evacuate(id, from, to)),
    reconcile: async () => renderReconcile(await fm.reconcile(id)),
    serve: async (nodes, port, mode) =>
      renderServe(await fm.serve(id, { nodes, port, mode }), tcpRepairUnavailable()),
    unserve: async (nodes) => renderServeStopped(id, await fm.unserve(id, nodes)),
    status: async () => renderStatus(await fm.status(id)),
    flows: async () => renderFlows(await fm.status(id)),
  };
}

/** The prompt on a single-host lab. */
export function runPrompt(fm: Flowmig, id: string, io: PromptIo): Promise<PromptEnd> {
  return runPromptWith(labActions(fm, id), io);
}

/** Runs until `quit`, end of input (Ctrl-D) or SIGINT (Ctrl-C); says which. */
export async function runPromptWith(act: PromptActions, io: PromptIo): Promise<PromptEnd> {
  const tty = io.input.isTTY === true;
  const rl = createInterface({
    input: io.input,
    output: io.output,
    terminal: tty,
    prompt: 'flowmig> ',
  });
  let end: PromptEnd = 'eof';
  const interrupt = () => {
    end = 'interrupt';
    rl.close();
  };
  rl.on('SIGINT', interrupt); // Ctrl-C on a terminal
  process.once('SIGINT', interrupt); // SIGINT from elsewhere (or with piped input)
  process.once('SIGTERM', interrupt);
  const say = (text: string) => io.output.write(`${text}\n`);
  try {
    if (tty) rl.prompt();
    for await (const line of rl) {
      const command = parsePromptLine(line);
      try {
        switch (command.kind) {
          case 'empty':
            break;
          case 'invalid':
            say(command.message);
            break;
          case 'help':
            say(PROMPT_HELP);
            break;
          case 'quit':
            end = 'quit';
            rl.close();
            break;
          case 'swap':
            say(await act.swap(command.flow));
            break;
          case 'migrate':
            say(await act.migrate(command.flow, command.node));
            break;
          case 'evacuate':
            say(await act.evacuate(command.from, command.to));
            break;
          case 'reconcile':
            say(await act.reconcile());
            break;
          case 'serve':
            say(await act.serve(command.nodes, command.port, command.mode));
            break;
          case 'unserve':
            say(await act.unserve(command.nodes));
            break;
          case 'status':
            say(await act.status());
            break;
          case 'flows':
            say(await act.flows());
            break;
        }
      } catch (error) {
        if (!(error instanceof FlowmigError)) throw error;
        say(`error: ${error.message}`);
      }
      if (end === 'quit') break;
      if (tty) rl.prompt();
    }
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
    rl.close();
  }
  return end;
}
