// Parses one line typed at the interactive prompt into a command (pure; unknown input is an error).
import { SERVE_MODES, type ServeMode } from '../control/serve-process.js';

export type PromptCommand =
  | { readonly kind: 'swap'; readonly flow: string | undefined }
  | { readonly kind: 'migrate'; readonly flow: string; readonly node: string }
  | { readonly kind: 'evacuate'; readonly from: string; readonly to: string }
  | { readonly kind: 'reconcile' }
  | {
      readonly kind: 'serve';
      /** Empty: every server of the lab. */
      readonly nodes: readonly string[];
      /** Undefined: the controller's default (5555, echo), as for `flowmig serve`. */
      readonly port: number | undefined;
      readonly mode: ServeMode | undefined;
    }
  | { readonly kind: 'unserve'; readonly nodes: readonly string[] }
  | { readonly kind: 'status' }
  | { readonly kind: 'flows' }
  | { readonly kind: 'help' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'empty' }
  | { readonly kind: 'invalid'; readonly message: string };

export const PROMPT_HELP = [
  'swap [FLOW]          migrate the flow (default: the only one) to the next server',
  "migrate FLOW NODE    make NODE the flow's responder (server) or initiator (client)",
  'evacuate FROM TO     move every flow served by FROM to TO: one rule change, one conntrack pass',
  "reconcile            make the translator match the lab's desired flow table again",
  'serve [NODES...] [--port N] [--mode echo|stream]',
  "                     run flowmig's TCP server runtime in server nodes (default: all, 5555, echo)",
  'serve --stop [NODES...]',
  '                     stop those server runtimes (default: all)',
  'status               the lab, its nodes and where each flow points',
  'flows                the flows and their current responders',
  'help                 this text',
  'quit                 leave (tears the lab down unless started with --keep)',
].join('\n');

const SERVE_USAGE = 'serve [NODES...] [--port N] [--mode echo|stream], serve --stop [NODES...]';

export function parsePromptLine(line: string): PromptCommand {
  const words = line
    .trim()
    .split(/\s+/)
    .filter((w) => w.length > 0);
  const [verb, ...args] = words;
  if (verb === undefined) return { kind: 'empty' };
  const arity = (min: number, max: number, usage: string): PromptCommand | undefined =>
    args.length < min || args.length > max
      ? { kind: 'invalid', message: `usage: ${usage}` }
      : undefined;
  switch (verb) {
    case 'swap':
      return arity(0, 1, 'swap [FLOW]') ?? { kind: 'swap', flow: args[0] };
    case 'migrate':
      return (
        arity(2, 2, 'migrate FLOW NODE') ?? {
          kind: 'migrate',
          flow: args[0] ?? '',
          node: args[1] ?? '',
        }
      );
    case 'evacuate':
      return (
        arity(2, 2, 'evacuate FROM TO') ?? {
          kind: 'evacuate',
          from: args[0] ?? '',
          to: args[1] ?? '',
        }
      );
    case 'serve':
      return parseServe(args);
    case 'reconcile':
    case 'status':
    case 'flows':
    case 'help':
    case 'quit':
      return arity(0, 0, verb) ?? { kind: verb };
    case 'exit':
      return arity(0, 0, verb) ?? { kind: 'quit' };
    case '?':
      return { kind: 'help' };
    default:
      return {
        kind: 'invalid',
        message: `unknown command '${cut(verb)}' (type 'help' for the commands); nothing changed`,
      };
  }
}

/** `serve`'s words, as `flowmig serve` takes them: nodes, `--port N`/`-p N`, `--mode M`, `--stop`. */
function parseServe(args: readonly string[]): PromptCommand {
  const invalid = (problem: string): PromptCommand => ({
    kind: 'invalid',
    message: `serve: ${problem}; usage: ${SERVE_USAGE}`,
  });
  const nodes: string[] = [];
  let port: string | undefined;
  let mode: string | undefined;
  let stop = false;
  for (let i = 0; i < args.length; i++) {
    const word = args[i] ?? '';
    if (!word.startsWith('-')) {
      nodes.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const flag = eq < 0 ? word : word.slice(0, eq);
    if (word === '--stop') stop = true;
    else if (flag === '--port' || flag === '-p' || flag === '--mode') {
      const value = eq < 0 ? args[++i] : word.slice(eq + 1);
      if (value === undefined) return invalid(`${flag} needs a value`);
      if (flag === '--mode') mode = value;
      else port = value;
    } else return invalid(`unknown option '${cut(word)}'`);
  }
  if (stop) {
    return port === undefined && mode === undefined
      ? { kind: 'unserve', nodes }
      : invalid('--stop takes no --port or --mode');
  }
  const n = port === undefined ? undefined : /^\d{1,5}$/.test(port) ? Number(port) : 0;
  if (n !== undefined && (n < 1 || n > 65_535)) return invalid(`bad port '${cut(port)}' (1-65535)`);
  const known = SERVE_MODES.find((m) => m === mode);
  if (mode !== undefined && !known) {
    return invalid(`bad mode '${cut(mode)}' (${SERVE_MODES.join(' or ')})`);
  }
  return { kind: 'serve', nodes, port: n, mode: known };
}

/** A word echoed in a message, cut to 40 characters. */
function cut(word: string | undefined): string {
  return (word ?? '').slice(0, 40);
}
