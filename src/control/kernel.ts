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
  /** Interfaces whose operational state is UP (carrier on both ends of a veth). */
  readonly operUp: readonly string[];
}

/** Parses `ip -o link show` output. */
export function parseLinks(text: string): NamespaceLinks {
  let mark: string | undefined;
  const others: string[] = [];
  const operUp: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+([^:@\s]+)(?:@\S+)?:/.exec(line);
    if (!m?.[1]) continue;
    if (m[1] === 'lo') mark = /\balias (\S+)/.exec(line)?.[1];
    else others.push(m[1]);
    if (/\bstate UP\b/.test(line)) operUp.push(m[1]);
  }
  return { mark, others, operUp };
}

export async function namespaceLinks(runner: Runner, netns: string): Promise<NamespaceLinks> {
  const { stdout } = await runner.run(['ip', '-o', 'link', 'show'], { netns });
  return parseLinks(stdout);
}

/**
 * Waits until every listed interface is operationally UP. A new veth is UP administratively at
 * once, but the kernel's linkwatch turns its carrier on up to ~1 s later, and until then packets
 * sent over it are dropped: a lab is only ready when all its links are.
 */
export async function waitForLinks(
  runner: Runner,
  links: readonly { readonly netns: string; readonly dev: string }[],
  timeoutMs = 5_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let pending = [...links];
  for (;;) {
    const still: typeof pending = [];
    for (const ns of new Set(pending.map((l) => l.netns))) {
      const up = new Set((await namespaceLinks(runner, ns)).operUp);
      still.push(...pending.filter((l) => l.netns === ns && !up.has(l.dev)));
    }
    pending = still;
    if (pending.length === 0 || Date.now() >= deadline)
      return pending.map((l) => `${l.netns}/${l.dev}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
