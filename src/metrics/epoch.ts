// Converts the "seconds.fraction" epoch stamps that tcpdump, ping -D and conntrack print into milliseconds.

/**
 * Milliseconds since the epoch from the digits before and after the dot (up to 9 fraction digits
 * are used). A double holds a current epoch in ms to about 0.25 µs; `epochNs` keeps every digit.
 */
export function epochMs(seconds: string, fraction: string): number {
  const digits = Math.min(fraction.length, 9);
  // Both products are exact integers below 2^53, so the one division is the only rounding.
  const fracMs = digits === 0 ? 0 : (Number(fraction.slice(0, digits)) * 1000) / 10 ** digits;
  return Number(seconds) * 1000 + fracMs;
}

/** Nanoseconds since the epoch, exact. */
export function epochNs(seconds: string, fraction: string): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(fraction.slice(0, 9).padEnd(9, '0'));
}
