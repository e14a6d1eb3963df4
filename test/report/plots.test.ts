import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  ecdf,
  gapPlot,
  latencyPlot,
  type Plot,
  packetsPlot,
  planPlots,
  rttPlot,
  udpPlot,
} from '../../src/report/plots/index.js';
import type { ExperimentResults } from '../../src/results/schema.js';
import {
  emptySwapsRun,
  pingRun,
  tcpMigrateRun,
  tcpResetRun,
  udpRun,
} from '../support/results-sample.js';

/** The parts of a vega-lite spec these tests read, without its type's many unions. */
interface Loose {
  title?: { text: string; subtitle?: string | string[] };
  data?: { values: Record<string, unknown>[] };
  layer?: Loose[];
  mark?: { type: string; opacity?: number } | string;
  encoding?: Record<string, { title?: string; scale?: { type?: string } } | undefined>;
}

function drawn(plot: Plot): Loose {
  assert.ok('spec' in plot, `${plot.name} was left out: ${'omitted' in plot ? plot.omitted : ''}`);
  return plot.spec as unknown as Loose;
}

function omitted(plot: Plot): string {
  assert.ok('omitted' in plot, `${plot.name} was drawn`);
  return plot.omitted;
}

/** Data values of a spec or of its layer `i`. */
function values(spec: Loose, layer?: number): Record<string, unknown>[] {
  const s = layer === undefined ? spec : spec.layer?.[layer];
  assert.ok(s?.data, 'no inline data');
  return s.data.values;
}

/** Every axis title in the spec (all layers). */
function axisTitles(spec: Loose): string[] {
  return [spec, ...(spec.layer ?? [])].flatMap((s) =>
    ['x', 'y'].flatMap((c) => {
      const t = s.encoding?.[c]?.title;
      return t === undefined ? [] : [t];
    }),
  );
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** A plot's subtitle as one text (its lines joined by newlines). */
const sub = (spec: Loose): string => [spec.title?.subtitle ?? ''].flat().join('\n');

describe('planPlots', () => {
  it('draws the four plots of a ping run, in order, and says why the UDP and TCP ones are left out', () => {
    const plots = planPlots(pingRun());
    assert.deepEqual(
      plots.map((p) => [p.name, 'spec' in p]),
      [
        ['packets', true],
        ['packets-window', true],
        ['gaps', true],
        ['swap-latency', true],
        ['rtt', true],
        ['udp-per-swap', false],
        ['tcp-connections', false],
      ],
    );
    assert.match(omitted(plots[5] as Plot), /no per-swap UDP figures/);
    assert.match(omitted(plots[6] as Plot), /no TCP traffic/);
  });

  it('draws the TCP connections per server, one line per server, with the swaps', () => {
    const r = {
      ...tcpResetRun(),
      tcpConnections: [
        { tMs: 0, perNode: { C: 1, D: 0 } },
        { tMs: 200, perNode: { C: 0, D: 1 } },
      ],
    };
    const plot = planPlots(r).find((p) => p.name === 'tcp-connections');
    assert.ok(plot);
    const spec = drawn(plot);
    const last = (spec.layer?.length ?? 0) - 1;
    assert.deepEqual(values(spec, last), [
      { node: 'C', t: 0, n: 1 },
      { node: 'D', t: 0, n: 0 },
      { node: 'C', t: 0.2, n: 0 },
      { node: 'D', t: 0.2, n: 1 },
    ]);
    assert.ok(axisTitles(spec).includes('TCP connections (count)'));
  });

  it('gives every drawn plot a title and axis titles with units', () => {
    for (const r of [pingRun(), udpRun(), tcpResetRun(), emptySwapsRun()]) {
      for (const plot of planPlots(r)) {
        if (!('spec' in plot)) continue;
        const spec = drawn(plot);
        assert.equal(spec.title?.text, plot.title);
        const titles = axisTitles(spec);
        assert.ok(titles.length >= 2, `${plot.name}: axis titles ${titles.join(', ')}`);
        for (const t of titles) assert.match(t, /\(.+\)$/, `${plot.name}: "${t}" has no unit`);
      }
    }
  });

  it('explains each plot an empty-swaps run leaves out', () => {
    const byName = new Map(planPlots(emptySwapsRun()).map((p) => [p.name, p]));
    assert.equal(omitted(byName.get('gaps') as Plot), 'no swaps recorded');
    assert.equal(omitted(byName.get('swap-latency') as Plot), 'no swaps recorded');
    assert.ok('spec' in (byName.get('packets') as Plot));
    assert.ok('spec' in (byName.get('rtt') as Plot));
  });

  it('leaves out the gap histogram when no gap was measured, and RTT without ping', () => {
    const r = tcpResetRun();
    assert.equal(omitted(gapPlot(r)), 'no migration gaps measured');
    assert.equal(omitted(rttPlot(r)), 'no ping traffic in this run');
    const noRtt = pingRun(5);
    const ping = noRtt.traffic.ping;
    assert.ok(ping);
    assert.equal(
      omitted(rttPlot({ ...noRtt, traffic: { ping: { ...ping, rtt: [] } } })),
      'no ping round-trip times recorded',
    );
    assert.equal(
      omitted(packetsPlot({ ...r, series: { intervalMs: 10, nodes: {} } })),
      'no per-node packet series recorded',
    );
  });
});

describe('packets plot', () => {
  it('turns counts per interval into packets per second, one line per node', () => {
    const r = tcpResetRun(); // 3000 ms in 50 ms intervals: 60 bins, no merging
    const rows = values(drawn(packetsPlot(r)), 1);
    for (const [node, counts] of Object.entries(r.series.nodes)) {
      const mine = rows.filter((v) => v.node === node);
      assert.equal(mine.length, counts.length);
      assert.deepEqual(
        mine.map((v) => v.rate),
        counts.map((c) => c / 0.05),
      );
      assert.deepEqual(
        mine.map((v) => v.t),
        counts.map((_, k) => (k * 50) / 1000),
      );
    }
  });

  it('merges intervals of long runs into at most 800 bins, keeping every packet', () => {
    const r = pingRun(); // 16 s in 10 ms intervals: 1600 of them
    const spec = drawn(packetsPlot(r));
    const binMs = Number(/^(\d+) ms bins/.exec(sub(spec))?.[1]);
    assert.ok(binMs >= 20, sub(spec));
    const rows = values(spec, (spec.layer?.length ?? 1) - 1);
    for (const [node, counts] of Object.entries(r.series.nodes)) {
      const mine = rows.filter((v) => v.node === node);
      assert.ok(mine.length <= 800, `${mine.length} bins`);
      const packets = sum(mine.map((v) => (v.rate as number) * (binMs / 1000)));
      assert.ok(
        Math.abs(packets - sum(counts)) < 1e-6 * sum(counts),
        `${packets} vs ${sum(counts)}`,
      );
    }
  });

  it('with a swap every 15 ms: bins of several swaps, so each server draws its share, not a band', () => {
    const r = pingRun(); // 1000 swaps, 15 ms apart
    const spec = drawn(packetsPlot(r));
    const binMs = Number(/^(\d+) ms bins/.exec(sub(spec))?.[1]);
    assert.ok(binMs >= 4 * 15, `${binMs} ms bins hold at least four swap periods`);
    // No rule per swap: a thousand rules on 680 px are a grey wall.
    for (const layer of spec.layer ?? [])
      assert.ok(values(spec, spec.layer?.indexOf(layer)).length < 1000);
    assert.match(sub(spec), /1000 swaps/);
  });

  it('marks each swap with a rule when they are few', () => {
    const few = drawn(packetsPlot(tcpResetRun()));
    assert.deepEqual(
      values(few, 0).map((v) => v.t),
      tcpResetRun().swaps.map((s) => s.issuedMs / 1000),
    );
  });

  it('has no swap layer when there were no swaps', () => {
    const spec = drawn(packetsPlot(emptySwapsRun()));
    assert.equal(spec.layer?.length, 1);
  });
});

describe('packets window', () => {
  it('shows a few swaps from the captures, each handing the packets to its new server', () => {
    const r = pingRun();
    const plot = planPlots(r).find((p) => p.name === 'packets-window');
    assert.ok(plot);
    const spec = drawn(plot);
    const rows = values(spec, (spec.layer?.length ?? 1) - 1);
    const ts = rows.map((v) => v.t as number);
    const from = Math.min(...ts);
    const to = Math.max(...ts);
    const shown = r.swaps.filter((s) => s.issuedMs >= from && s.issuedMs <= to);
    assert.ok(shown.length >= 3 && shown.length <= 10, `${shown.length} swaps in the window`);
    for (const [k, s] of shown.entries()) {
      const next = shown[k + 1];
      if (!next) break;
      const between = rows.filter(
        (v) => (v.t as number) > s.issuedMs + 1 && (v.t as number) < next.issuedMs - 1,
      );
      const at = (node: string) =>
        sum(between.filter((v) => v.node === node).map((v) => v.n as number));
      assert.ok(
        at(s.to) > at(s.from),
        `swap ${s.index}: ${s.to} ${at(s.to)} > ${s.from} ${at(s.from)}`,
      );
    }
    assert.equal(values(spec, 0).length, shown.length, 'a rule per swap in the window');
    assert.match(
      spec.title?.text ?? '',
      new RegExp(`swaps ${shown[0]?.index}–${shown.at(-1)?.index}`),
    );
  });

  it('is left out when the run kept no captures', () => {
    const r = { ...pingRun(10) };
    delete r.arrivals;
    assert.match(
      omitted(planPlots(r).find((p) => p.name === 'packets-window') as Plot),
      /captures/,
    );
  });
});

describe('gap histogram', () => {
  /** The bars of the histogram: [start, end) in ms and how many swaps each holds. */
  const bars = (spec: Loose) =>
    values(spec, 0).map((v) => ({
      start: v.start as number,
      end: v.end as number,
      count: v.count as number,
      beyond: v.beyond === true,
    }));

  it('counts every measured gap once, negative ones included', () => {
    const r = pingRun();
    const gaps = r.swaps.flatMap((s) => (s.gapMs === null ? [] : [s.gapMs]));
    assert.ok(gaps.some((g) => g <= 0) && gaps.length < r.swaps.length);
    const spec = drawn(gapPlot(r));
    const b = bars(spec);
    assert.equal(sum(b.map((x) => x.count)), gaps.length);
    assert.ok(Math.min(...b.map((x) => x.start)) <= Math.min(...gaps));
    assert.match(sub(spec), new RegExp(`^${gaps.length} of 1000 swaps measured`));
  });

  it('spreads the body over the bins when one outlier would set a linear axis', () => {
    const base = pingRun(200);
    // 199 gaps between 5 and 30 µs (a demo's), one of 3.5 ms.
    const r = {
      ...base,
      swaps: base.swaps.map((s, i) => ({
        ...s,
        gapMs: i === 150 ? 3.5 : 0.005 + (i % 26) * 0.001,
      })),
    };
    const spec = drawn(gapPlot(r));
    const b = bars(spec);
    assert.equal(sum(b.map((x) => x.count)), 200);
    const filled = b.filter((x) => !x.beyond && x.count > 0);
    assert.ok(filled.length >= 10, `${filled.length} bins hold the 199 gaps`);
    const outlier = b.find((x) => x.start <= 3.5 && (x.end > 3.5 || x.beyond));
    assert.equal(outlier?.count, 1, 'the outlier is counted');
    assert.match(sub(spec), /3\.5 ms/);
  });
});

describe('ecdf', () => {
  it('starts at 0 and steps by 1/n to 1', () => {
    assert.deepEqual(ecdf([3, 1, 2]), [
      [1, 0],
      [1, 1 / 3],
      [2, 2 / 3],
      [3, 1],
    ]);
    assert.deepEqual(ecdf([]), []);
  });

  it('keeps at most about `max` points, always the last', () => {
    const points = ecdf(
      Array.from({ length: 1001 }, (_, i) => i),
      100,
    );
    assert.ok(points.length <= 102, `${points.length} points`);
    assert.deepEqual(points.at(-1), [1000, 1]);
  });
});

describe('swap latency ECDF', () => {
  it('has a line for each measure of a swap, each reaching 1', () => {
    const r = pingRun();
    const rows = values(drawn(latencyPlot(r)));
    const steps = [
      'swap issued → flow moved',
      'waiting before the rule',
      'rule commit',
      'conntrack cleanup',
      'controller apply',
    ];
    assert.deepEqual([...new Set(rows.map((v) => v.step))], steps);
    for (const step of steps) {
      const mine = rows.filter((v) => v.step === step);
      assert.equal(mine[0]?.fraction, 0);
      assert.equal(mine.at(-1)?.fraction, 1);
    }
    const totals = rows.filter((v) => v.step === steps[0]).map((v) => v.ms as number);
    assert.equal(Math.max(...totals), Math.max(...r.swaps.map((s) => s.controlMs.total)));
  });

  it('uses a log axis for a long tail, a linear one otherwise', () => {
    assert.equal(drawn(latencyPlot(pingRun())).encoding?.x?.scale?.type, 'log');
    const flat = tcpResetRun();
    const same = {
      ...flat,
      swaps: flat.swaps.map((s) => ({
        ...s,
        controlMs: { wait: 1, rule: 1, conntrack: 1, total: 3 },
        applyMs: 2,
      })),
    };
    assert.equal(drawn(latencyPlot(same)).encoding?.x?.scale?.type, undefined);
  });
});

describe('RTT plot', () => {
  it('plots round-trip times against seconds, thinned to at most 2500 points', () => {
    const r = pingRun();
    const spec = drawn(rttPlot(r));
    const rows = values(spec, 1);
    assert.ok(rows.length <= 2500 && rows.length > 1000, `${rows.length} points`);
    const first = r.traffic.ping?.rtt[0];
    assert.deepEqual(rows[0], { t: (first?.tMs ?? 0) / 1000, rtt: first?.rttMs });
    // 1000 swaps 15 ms apart crowd the axis: one band from the first to the last, not 1000 rules.
    assert.deepEqual(values(spec, 0), [
      { from: (r.swaps[0]?.issuedMs ?? 0) / 1000, to: (r.swaps.at(-1)?.issuedMs ?? 0) / 1000 },
    ]);
  });

  it('keeps every sample of a short run', () => {
    const r = emptySwapsRun();
    const spec = drawn(rttPlot(r));
    assert.equal(spec.layer?.length, 1, 'no swaps, no rule layer');
    assert.equal(values(spec, 0).length, r.traffic.ping?.rtt.length);
  });
});

describe('UDP per-swap plot', () => {
  it('has lost, duplicated and reordered for every swap, adding up to the totals', () => {
    const r: ExperimentResults = udpRun();
    const rows = values(drawn(udpPlot(r)));
    assert.equal(rows.length, r.swaps.length * 3);
    for (const measure of ['lost', 'duplicated', 'reordered'] as const) {
      const total = sum(rows.filter((v) => v.measure === measure).map((v) => v.count as number));
      assert.equal(total, r.traffic.udp?.[measure]);
    }
  });

  it('is left out when no swap has UDP counts', () => {
    assert.match(omitted(udpPlot(pingRun(10))), /no swap has UDP counts/);
  });
});

describe('TCP connections plot', () => {
  it('draws every move of the migration log, not only the ones the conntrack samples caught', () => {
    const r = tcpMigrateRun(); // 100 moves, 20 ms apart; samples every 200 ms
    const plot = planPlots(r).find((p) => p.name === 'tcp-connections');
    assert.ok(plot);
    const spec = drawn(plot);
    // The first layer: connections per server drawn from the log (stacked bands).
    const lines = spec.layer?.[0];
    assert.ok(lines?.data, 'a layer drawn from the log');
    const rows = lines.data.values as { node: string; t: number; n: number }[];
    const from = Math.min(...rows.map((v) => v.t));
    const to = Math.max(...rows.map((v) => v.t));
    const moves = r.swaps.filter(
      (s) => (s.tcp?.moved ?? 0) > 0 && s.issuedMs / 1000 >= from && s.issuedMs / 1000 <= to,
    );
    assert.ok(moves.length >= 20, `${moves.length} moves drawn`);
    const onC = rows.filter((v) => v.node === 'C').sort((a, b) => a.t - b.t);
    let changes = 0;
    for (let i = 1; i < onC.length; i++) if (onC[i]?.n !== onC[i - 1]?.n) changes++;
    assert.ok(changes >= moves.length, `${changes} changes on C for ${moves.length} moves`);
    assert.match(sub(spec), /migration log/);
  });
});
