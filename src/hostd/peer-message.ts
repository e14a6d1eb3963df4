// What host daemons say to each other over the fabric, one JSON object per line: "host H of lab L
// applied every revision up to R", and "send me yours for T ms"; and their strict check (a peer's
// bytes are input).
import { z } from 'zod';
import { canonicalAddress } from '../net/ipv6.js';

/** Longest acknowledgement line: a lab id and a host name of ≤ 200 characters, a revision. */
export const MAX_PEER_LINE_BYTES = 512;

/** Longest time a peer may ask for acknowledgements at once (it asks again while it waits). */
export const MAX_WANT_MS = 60_000;

const lab = z.string().min(1).max(200);
const host = z.string().min(1).max(63);
const peerAckSchema = z.strictObject({
  lab,
  host,
  applied: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});
/** "Send me your acknowledgements for the next `want` ms": a daemon that answers changes. */
const peerWantSchema = z.strictObject({
  lab,
  host,
  want: z.number().int().positive().max(MAX_WANT_MS),
});

export type PeerAck = z.infer<typeof peerAckSchema>;
export type PeerWant = z.infer<typeof peerWantSchema>;
export type PeerMessage = PeerAck | PeerWant;

/** What a received message must agree with: this daemon's lab and its peers. */
export interface PeerExpect {
  readonly lab: string;
  readonly self: string;
  /** Every other host of the lab → its translator's fabric address (canonical). */
  readonly peers: ReadonlyMap<string, string>;
}

export function encodePeerMessage(m: PeerMessage): string {
  return `${JSON.stringify(m)}\n`;
}

/**
 * The message in `value` (one parsed JSON line) received from `from` (the connection's remote
 * address), or why it is dropped. A host may only speak for itself: the connection must come from
 * that host's fabric address (the sender binds it), so a daemon of another lab, or a stray
 * process in the fabric, cannot move a host's applied revision forward.
 */
export function checkPeerMessage(
  value: unknown,
  from: string | undefined,
  expect: PeerExpect,
): { message: PeerMessage } | { error: string } {
  // Told apart by their one distinct field, so an error names the field that is wrong.
  const schema =
    typeof value === 'object' && value !== null && 'want' in value ? peerWantSchema : peerAckSchema;
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      error: `malformed: ${issue ? `${issue.path.join('.') || 'message'}: ${issue.message}` : 'invalid'}`,
    };
  }
  const m = parsed.data;
  if (m.lab !== expect.lab) return { error: `lab ${m.lab}, not ${expect.lab}` };
  if (m.host === expect.self) return { error: `host ${m.host} is this host` };
  const address = expect.peers.get(m.host);
  if (address === undefined) return { error: `host ${m.host} is not a host of ${expect.lab}` };
  const source = from === undefined ? undefined : canonicalAddress(from);
  if (source !== address)
    return { error: `host ${m.host} spoken for from ${from ?? 'nowhere'}, not ${address}` };
  return { message: m };
}
