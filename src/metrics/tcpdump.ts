// Parses the packet lines of `tcpdump -n -tt [--time-stamp-precision=nano] [-i any] -r FILE`.
import { epochMs, epochNs } from './epoch.js';
import { type LineSource, type ScanCounts, scanLines, scanText } from './lines.js';

export type PacketKind = 'echo-request' | 'echo-reply' | 'udp' | 'tcp' | 'other';

/** The link direction `-i any` captures print (Linux cooked capture): packet types of the kernel. */
export type LinkDirection = 'In' | 'Out' | 'B' | 'M' | 'P';

export interface TcpdumpPacket {
  /** Epoch milliseconds (resolution of a double: about 0.25 µs). */
  readonly tMs: number;
  /** Epoch nanoseconds, every printed digit (micro-precision captures end in 000). */
  readonly tNs: bigint;
  /** Interface and direction, only in `-i any` captures. */
  readonly iface?: string;
  readonly direction?: LinkDirection;
  /** Addresses without the port. */
  readonly src: string;
  readonly dst: string;
  readonly kind: PacketKind;
  /** ICMP echo identifier and sequence number (16 bits: it wraps after 65535). */
  readonly id?: number;
  readonly seq?: number;
  readonly sport?: number;
  readonly dport?: number;
  /** The last `length N` of the line: the ICMP message, UDP payload or TCP payload length. */
  readonly length?: number;
  /** TCP flags as tcpdump prints them: `S`, `S.`, `.`, `P.`, `F.`, `R`, `R.`. */
  readonly flags?: string;
  /** The ICMP message for kind `other`, e.g. `neighbor solicitation`, `destination unreachable`. */
  readonly icmp?: string;
}

// seconds.fraction, optional "iface dir" (-i any; older cooked captures print only the direction),
// then "IP6|IP src > dst: rest". The destination ends at the first ':' followed by a space, which
// an IPv6 address never contains.
const LINE = /^(\d+)\.(\d+)\s+(?:(?:(\S+)\s+)?(In|Out|B|M|P)\s+)?IP6?\s+(\S+) > (\S+?):\s+(.*)$/;
// `HBH` marks a hop-by-hop options header (MLD reports carry one).
const ICMP = /^(?:HBH )?ICMP6?,? ([^,]+?)(?:,|$)/;
const ECHO = /\bid (\d+), seq (\d+)/;
const LENGTH = /\blength (\d+)(?!.*\blength \d)/;
const FLAGS = /^Flags \[([^\]]*)\]/;

/** One packet line, or undefined for anything else (other link types, truncated lines, headers). */
export function parseTcpdumpLine(line: string): TcpdumpPacket | undefined {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const [, sec = '', frac = '', iface, direction, srcEnd = '', dstEnd = '', rest = ''] = m;
  const src = splitPort(srcEnd);
  const dst = splitPort(dstEnd);
  const length = LENGTH.exec(rest)?.[1];
  const packet: {
    -readonly [K in keyof TcpdumpPacket]: TcpdumpPacket[K];
  } = {
    tMs: epochMs(sec, frac),
    tNs: epochNs(sec, frac),
    src: src.host,
    dst: dst.host,
    kind: 'other',
  };
  if (iface !== undefined) packet.iface = iface;
  if (direction !== undefined) packet.direction = direction as LinkDirection;
  if (src.port !== undefined) packet.sport = src.port;
  if (dst.port !== undefined) packet.dport = dst.port;
  if (length !== undefined) packet.length = Number(length);

  const icmp = ICMP.exec(rest);
  if (icmp) {
    const what = icmp[1] ?? '';
    if (what === 'echo request' || what === 'echo reply') {
      packet.kind = what === 'echo request' ? 'echo-request' : 'echo-reply';
      const echo = ECHO.exec(rest);
      if (echo) {
        packet.id = Number(echo[1]);
        packet.seq = Number(echo[2]);
      }
    } else packet.icmp = what;
    return packet;
  }
  if (rest.startsWith('UDP,')) {
    packet.kind = 'udp';
    return packet;
  }
  const flags = FLAGS.exec(rest);
  if (flags) {
    packet.kind = 'tcp';
    packet.flags = flags[1] ?? '';
  }
  // Anything else stays `other`: tcpdump decodes well-known ports (DNS, NTP, ...) without "UDP,".
  return packet;
}

/**
 * tcpdump joins the port to the address with a dot. IPv6 has no dots except an embedded IPv4
 * (`::ffff:1.2.3.4`, 3 dots), IPv4 has 3: one more dot means a port.
 */
function splitPort(endpoint: string): { host: string; port?: number } {
  let dots = 0;
  for (let i = 0; i < endpoint.length; i++) if (endpoint.charCodeAt(i) === 46) dots++;
  const v6 = endpoint.includes(':');
  const hasPort = v6 ? dots === 1 || dots === 4 : dots === 4;
  if (!hasPort) return { host: endpoint };
  const at = endpoint.lastIndexOf('.');
  const port = endpoint.slice(at + 1);
  if (!/^\d+$/.test(port)) return { host: endpoint };
  return { host: endpoint.slice(0, at), port: Number(port) };
}

/** tcpdump's own messages when it reads a file (`reading from file ...`) go to stderr, but a merged log holds them. */
function isChatter(line: string): boolean {
  return /^(reading from file|tcpdump: |\d+ packets? (captured|received|dropped))/.test(line);
}

/** All packets of a capture's text, in order, with the counts of what was skipped. */
export function parseTcpdump(text: string): { packets: TcpdumpPacket[]; counts: ScanCounts } {
  const { records, counts } = scanText(text, parseTcpdumpLine, isChatter);
  return { packets: records, counts };
}

/**
 * Streams a capture: each packet goes to `visit` and is not kept, so millions of packets cost
 * no memory here. Lines come from `readLines(createReadStream(file))` or a tcpdump child's stdout.
 */
export function scanTcpdump(
  lines: LineSource,
  visit: (packet: TcpdumpPacket) => void,
): Promise<ScanCounts> {
  return scanLines(lines, parseTcpdumpLine, visit, isChatter);
}
