// Reads what the kernel shows about namespaces: which exist, and which carry flowmig's mark.
import type { Runner } from '../exec/runner.js';

/** Names from `ip netns list` ("A (id: 0)" → "A"). */
export function parseNetnsList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.length > 0);
}

export async function listNamespaces(runner: Runner): Promise<Set<string>> {
  const { stdout } = await runner.run(['ip', 'netns', 'list']);
  return new Set(parseNetnsList(stdout));
}

export interface NamespaceLinks {
  /** The alias of `lo`: flowmig's ownership mark, when flowmig made the namespace. */
  readonly mark: string | undefined;
  /** Interfaces other than lo. */
  readonly others: readonly string[];
}

/** Parses `ip -o link show` output. */
export function parseLinks(text: string): NamespaceLinks {
  let mark: string | undefined;
  const others: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)(?:@\S+)?:/.exec(line);
    if (!m?.[1]) continue;
    if (m[1] === 'lo') mark = /\balias (\S+)/.exec(line)?.[1];
    else others.push(m[1]);
  }
  return { mark, others };
}

export async function namespaceLinks(runner: Runner, netns: string): Promise<NamespaceLinks> {
  const { stdout } = await runner.run(['ip', '-o', 'link', 'show'], { netns });
  return parseLinks(stdout);
}
