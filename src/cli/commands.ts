// Parses one line typed at the interactive prompt into a command (pure; unknown input is an error).

export type PromptCommand =
  | { readonly kind: 'swap'; readonly flow: string | undefined }
  | { readonly kind: 'migrate'; readonly flow: string; readonly node: string }
  | { readonly kind: 'status' }
  | { readonly kind: 'flows' }
  | { readonly kind: 'help' }
  | { readonly kind: 'quit' }
  | { readonly kind: 'empty' }
  | { readonly kind: 'invalid'; readonly message: string };

export const PROMPT_HELP = [
  'swap [FLOW]          migrate the flow (default: the only one) to the next server',
  "migrate FLOW NODE    make NODE the flow's responder (server) or initiator (client)",
  'status               the lab, its nodes and where each flow points',
  'flows                the flows and their current responders',
  'help                 this text',
  'quit                 leave (tears the lab down unless started with --keep)',
].join('\n');

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
        message: `unknown command '${verb.slice(0, 40)}' (type 'help' for the commands); nothing changed`,
      };
  }
}
