// The interactive prompt of `flowmig up`: reads commands line by line and acts on the lab.
import { createInterface } from 'node:readline';
import type { Flowmig } from '../control/flowmig.js';
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

/** Runs until `quit`, end of input (Ctrl-D) or SIGINT (Ctrl-C); says which. */
export async function runPrompt(fm: Flowmig, id: string, io: PromptIo): Promise<PromptEnd> {
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
            say(renderMigration(await fm.swap(id, command.flow)));
            break;
          case 'migrate':
            say(renderMigration(await fm.migrate(id, command.flow, command.node)));
            break;
          case 'evacuate':
            say(renderEvacuation(await fm.evacuate(id, command.from, command.to)));
            break;
          case 'reconcile':
            say(renderReconcile(await fm.reconcile(id)));
            break;
          case 'serve': {
            const { nodes, port, mode } = command;
            say(renderServe(await fm.serve(id, { nodes, port, mode }), tcpRepairUnavailable()));
            break;
          }
          case 'unserve':
            say(renderServeStopped(id, await fm.unserve(id, command.nodes)));
            break;
          case 'status':
            say(renderStatus(await fm.status(id)));
            break;
          case 'flows':
            say(renderFlows(await fm.status(id)));
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
