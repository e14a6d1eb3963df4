// The routes a host daemon keeps on its translator: one per abstract address another host
// translates, to that host's fabric address, tagged with flowmig's route protocol number so they
// are found (and only they are touched) again after a restart. Lines for `ip -batch` (pure).
import type { RouteEdit } from './plan.js';

/** The routes' protocol number (rtnetlink's rtm_protocol): 199 is unassigned in iproute2's list. */
export const ROUTE_PROTO = '199';

/** The `ip -6 -batch -` input for `edits` via the fabric interface `dev`. */
export function routeBatch(edits: readonly RouteEdit[], dev: string): string {
  return edits
    .map((e) =>
      e.kind === 'replace'
        ? `route replace ${e.address}/128 via ${e.via} dev ${dev} proto ${ROUTE_PROTO}\n`
        : `route del ${e.address}/128 proto ${ROUTE_PROTO}\n`,
    )
    .join('');
}

/** `ip -6 -j route show proto 199` read back: abstract address → the gateway it goes via. */
export function parseRoutes(json: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!json.trim()) return out;
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) return out;
  for (const r of parsed as { dst?: unknown; gateway?: unknown }[]) {
    if (typeof r.dst !== 'string' || typeof r.gateway !== 'string') continue;
    out.set(r.dst.replace(/\/128$/, ''), r.gateway);
  }
  return out;
}

/** The edits that take the routes `kernel` has to the ones `desired` says. */
export function routeDiff(
  kernel: ReadonlyMap<string, string>,
  desired: ReadonlyMap<string, string>,
): RouteEdit[] {
  const edits: RouteEdit[] = [];
  for (const [address, via] of desired)
    if (kernel.get(address) !== via) edits.push({ kind: 'replace', address, via });
  for (const address of kernel.keys())
    if (!desired.has(address)) edits.push({ kind: 'delete', address });
  return edits;
}
