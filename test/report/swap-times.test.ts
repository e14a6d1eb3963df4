// One run, three readers: the demo's terminal table, the experiment's text and the report name a
// swap's times alike and show the same figures, and the demo's verdict has the results' shape.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderDemo } from '../../src/cli/demo-report.js';
import { renderExperiment } from '../../src/cli/experiment-report.js';
import type { DemoResult } from '../../src/experiment/demo.js';
import { reportFigures } from '../../src/report/figures.js';
import type { ExperimentResults } from '../../src/results/schema.js';
import { distribution, swapTimeNames } from '../../src/results/stats.js';
import { pingRun, tcpResetRun } from '../support/results-sample.js';

/** A demo result for `r` as runDemo builds it: the swap figures summarised from the results. */
function demoOf(r: ExperimentResults): DemoResult {
  const of = (pick: (s: ExperimentResults['swaps'][number]) => number) =>
    distribution(r.swaps.map(pick));
  return {
    id: r.id,
    lab: r.lab.id,
    engine: r.lab.engine,
    flow: 'fe00::1',
    startedAt: r.startedAt,
    durationS: r.durationMs / 1000,
    ping: {
      argv: ['ping', '-D', '-i', '0.00001', 'fe00::1'],
      summary: {
        transmitted: 1000,
        received: 1000,
        errors: 0,
        duplicates: 0,
        lossPercent: 0,
        timeMs: 1000,
        rttMs: undefined,
      },
      lost: 0,
      errorLines: [],
      ratePerS: 1000,
    },
    reached: { C: 500, D: 500 },
    swapTimeNames: swapTimeNames(r.lab),
    swaps: {
      done: r.swaps.length,
      requested: r.swaps.length,
      controlMs: {
        wait: of((s) => s.controlMs.wait),
        rule: of((s) => s.controlMs.rule),
        conntrack: of((s) => s.controlMs.conntrack),
        total: of((s) => s.controlMs.total),
      },
      applyMs: of((s) => s.applyMs),
      gapMs: distribution(r.swaps.flatMap((s) => (s.gapMs === null ? [] : [s.gapMs]))),
    },
    late: { translated: 0, perSwap: 0, graceMs: 5000 },
    tcp: undefined,
    verdict: r.verdict,
    report: { dir: '/tmp/x', html: '/tmp/x/report.html' },
    notes: [],
  } as DemoResult;
}

/** The three figures (p50, p99, max) a text shows on the line that starts with `label`. */
function figuresAfter(text: string, label: string): string[] {
  const line = text.split('\n').find((l) => l.trimStart().startsWith(label));
  assert.ok(line, `no line "${label}" in:\n${text}`);
  const numbers = line.slice(line.indexOf(label) + label.length).match(/-?\d+(\.\d+)?/g) ?? [];
  return numbers.slice(0, 3);
}

const LABELS = [
  'swap issued → flow moved p50 / p99 / max',
  'waiting before the rule p50 / p99 / max',
  'controller apply p50 / p99 / max',
];

describe('swap times in the terminal, the experiment text and the report', () => {
  it('are named alike and show the same figures for the same run', () => {
    const r = pingRun();
    const demo = renderDemo(demoOf(r));
    const text = renderExperiment(r, '/tmp/x');
    const table = reportFigures(r)
      .swaps.rows.map(([k, v]) => `${k.trim()} ${v}`)
      .join('\n');
    for (const label of LABELS) {
      const inReport = figuresAfter(table, label);
      assert.equal(inReport.length, 3, `${label}: ${inReport.join(', ')}`);
      assert.deepEqual(figuresAfter(demo, label), inReport, `demo: ${label}`);
      assert.deepEqual(figuresAfter(text, label), inReport, `experiment: ${label}`);
      // The per-swap table's columns carry the same names.
      const name = label.replace(/ p50 \/ p99 \/ max$/, '');
      assert.ok(reportFigures(r).swapTable.columns.includes(`${name} (ms)`), name);
    }
  });

  it('the wait before the rule is part of issued → moved, the controller’s apply is not', () => {
    const r = pingRun();
    const worst = r.swaps.reduce((a, s) => (s.controlMs.wait > a.controlMs.wait ? s : a));
    assert.ok(worst.controlMs.wait > 5, 'the sample has a long wait');
    assert.ok(worst.controlMs.total >= worst.controlMs.wait + worst.controlMs.rule);
    assert.ok(worst.applyMs < worst.controlMs.wait);
  });
});

describe('the demo’s verdict', () => {
  it('has the shape of the results’ verdict ({ok, lines}) and prints its lines', () => {
    const r = tcpResetRun();
    const demo = demoOf(r);
    assert.deepEqual(Object.keys(demo.verdict).sort(), ['lines', 'ok']);
    const text = renderDemo(demo);
    assert.match(text, /VERDICT: PASS/);
    for (const line of r.verdict.lines) assert.ok(text.includes(line), `"${line}" is printed`);
    const failed = renderDemo({ ...demo, verdict: { ok: false, lines: ['ping: 3 lost'] } });
    assert.match(failed, /VERDICT: FAIL — ping: 3 lost/);
  });

  it('numbers a TCP end’s swap as the swaps are numbered (from 1)', () => {
    const r = tcpResetRun();
    const text = renderExperiment(r, '/tmp/x');
    const tcp = text.split('\n').find((l) => l.startsWith('  tcp:')) ?? '';
    assert.match(tcp, /after swap 1\b/, tcp);
    const row = reportFigures(r).traffic.find((t) => t.title === 'TCP connection');
    assert.ok(row?.rows.some(([k, v]) => k === 'after swap' && v.startsWith('#1,')));
  });
});
