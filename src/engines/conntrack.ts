// Conntrack in the translator: the delete operation, how many entries a delete removed, and
// entries listed for checks.

/** Deletes the conntrack entries whose original destination is the flow's abstract address. */
export interface ConntrackDeleteOp {
  readonly kind: 'conntrackDelete';
  readonly netns: string;
  readonly origDst: string;
  /**
   * Entries already translated to this responder (created after the rule change) may stay:
   * the agent keeps them; the conntrack program cannot tell them apart and deletes them too.
   */
  readonly keepReplySrc?: string;
  /** Only entries translated to this concrete address go (a drain that ended). */
  readonly onlyReplySrc?: string;
  /** TCP entries stay (the flow drains its connections): every other protocol's go. */
  readonly keepTcp?: boolean;
}

/** Reads "N flow entries have been deleted." from `conntrack -D` stderr; undefined if absent. */
export function parseDeletedCount(stderr: string): number | undefined {
  const m = /(\d+) flow entr(?:y|ies) ha(?:s|ve) been deleted/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

export interface ConntrackEntry {
  readonly protocol: string;
  readonly origSrc: string;
  readonly origDst: string;
  readonly replySrc: string;
  readonly replyDst: string;
}

/** Parses `conntrack -L` and `conntrack -E` lines (default format); other lines are skipped. */
export function parseConntrackList(text: string): ConntrackEntry[] {
  const entries: ConntrackEntry[] = [];
  for (const line of text.split('\n')) {
    const protocol = /^\s*(?:\[\w+\]\s+)?(?:ipv6\s+\d+\s+)?([a-z0-9]+)\s+\d+/.exec(line)?.[1];
    const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1] ?? '');
    const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1] ?? '');
    if (!protocol || src.length < 2 || dst.length < 2) continue;
    entries.push({
      protocol,
      origSrc: src[0] ?? '',
      origDst: dst[0] ?? '',
      replySrc: src[1] ?? '',
      replyDst: dst[1] ?? '',
    });
  }
  return entries;
}
