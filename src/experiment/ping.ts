// Parses iputils ping's summary: transmitted, received, duplicates, errors, loss, rtt.

export interface PingSummary {
  readonly transmitted: number;
  readonly received: number;
  readonly duplicates: number;
  readonly errors: number;
  readonly lossPercent: number;
  readonly timeMs: number;
  readonly rttMs:
    | { readonly min: number; readonly avg: number; readonly max: number; readonly mdev: number }
    | undefined;
}

/** Returns undefined when the text holds no statistics line (ping died before printing it). */
export function parsePingSummary(text: string): PingSummary | undefined {
  const line = text.split('\n').find((l) => /packets transmitted/.test(l));
  if (!line) return undefined;
  const num = (re: RegExp) => Number(re.exec(line)?.[1] ?? 0);
  const rtt = /= ([\d.]+)\/([\d.]+)\/([\d.]+)\/([\d.]+) ms/.exec(text);
  return {
    transmitted: num(/(\d+) packets transmitted/),
    received: num(/(\d+) (?:packets )?received/),
    duplicates: num(/\+(\d+) duplicates/),
    errors: num(/\+(\d+) errors/),
    lossPercent: num(/([\d.]+(?:e[-+]?\d+)?)% packet loss/),
    timeMs: num(/time (\d+)ms/),
    rttMs: rtt
      ? { min: Number(rtt[1]), avg: Number(rtt[2]), max: Number(rtt[3]), mdev: Number(rtt[4]) }
      : undefined,
  };
}
