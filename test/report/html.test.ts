import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reportFigures, SWAP_ROWS } from '../../src/report/figures.js';
import { escapeHtml, fileHref, type RenderedPlot, renderHtml } from '../../src/report/html.js';
import { escapeMarkdown, renderMarkdown } from '../../src/report/markdown.js';
import { planPlots } from '../../src/report/plots/index.js';
import type { ExperimentResults } from '../../src/results/schema.js';
import { emptySwapsRun, pingRun, tcpResetRun, udpRun } from '../support/results-sample.js';

/** The plots as the report shows them, with a stand-in SVG (rendering is tested elsewhere). */
function plotsOf(r: ExperimentResults): RenderedPlot[] {
  return planPlots(r).map((p) =>
    'omitted' in p
      ? p
      : {
          name: p.name,
          title: p.title,
          file: `plots/${p.name}.svg`,
          svg: `<svg class="stand-in"><defs><clipPath id="clip1"></clipPath></defs><g clip-path="url(#clip1)"><text>${p.title}</text></g></svg>`,
        },
  );
}

const html = (r: ExperimentResults) => renderHtml(reportFigures(r), plotsOf(r));
const markdown = (r: ExperimentResults) => renderMarkdown(reportFigures(r), plotsOf(r));

const EVIL = '<script>alert(1)</script>';

/** A ping run whose every string from the results tries to inject markup. */
function hostile(): ExperimentResults {
  const r = pingRun(20);
  return {
    ...r,
    id: `run-${EVIL}`,
    lab: {
      ...r.lab,
      controlPath: '"><img src=x onerror=alert(1)>',
      flows: [{ address: 'fe00::1', name: EVIL, initiator: 'A', responders: ['C', 'D'] }],
    },
    verdict: { ok: false, lines: [`flow ${EVIL} lost packets`] },
    config: { [EVIL]: EVIL, nested: { html: '<b>x</b>' } },
    swaps: r.swaps.map((s) => ({ ...s, flow: EVIL })),
    traffic: {
      ...r.traffic,
      ping: r.traffic.ping && { ...r.traffic.ping, errorLines: [`From ${EVIL} icmp_seq=1`] },
    },
    files: [`"><script>x</script>.txt`, 'javascript:alert(1)', 'dir/a b#1.txt'],
  };
}

describe('renderHtml', () => {
  it('escapes every string from the results', () => {
    const page = html(hostile());
    assert.doesNotMatch(page, /<script/i);
    assert.doesNotMatch(page, /<img/i);
    assert.doesNotMatch(page, /<b>x/);
    assert.match(page, /fe00::1 \(&lt;script&gt;alert\(1\)&lt;\/script&gt;\)/);
    assert.match(page, /<li>flow &lt;script&gt;alert\(1\)&lt;\/script&gt; lost packets<\/li>/);
    assert.match(page, /&quot;&gt;&lt;img src=x onerror=alert\(1\)&gt;/);
  });

  it('links raw files relatively, each path segment encoded', () => {
    const page = html(hostile());
    assert.match(page, /<a href="%22%3E%3Cscript%3Ex%3C\/script%3E.txt">/);
    assert.match(page, /<a href="javascript%3Aalert\(1\)">javascript:alert\(1\)<\/a>/);
    assert.match(page, /<a href="dir\/a%20b%231.txt">dir\/a b#1.txt<\/a>/);
    assert.equal(fileHref('snmp6/C.txt'), 'snmp6/C.txt');
  });

  it('loads nothing from outside and needs no script', () => {
    const page = html(pingRun());
    assert.doesNotMatch(page, /<(script|link|iframe|img|object)\b/i);
    assert.doesNotMatch(page, /\b(src|href)="(https?:)?\/\//i);
    assert.doesNotMatch(page, /@import|url\(http/i);
    assert.match(page, /Content-Security-Policy" content="default-src 'none'/);
  });

  it('inlines the plots, each with its own ids', () => {
    const page = html(pingRun());
    assert.equal(page.match(/<svg class="stand-in">/g)?.length, 5);
    assert.match(page, /<clipPath id="p-packets-clip1">/);
    assert.match(page, /clip-path="url\(#p-rtt-clip1\)"/);
    assert.doesNotMatch(page, /id="clip1"/);
  });

  it('says why each left-out plot is not drawn', () => {
    const page = html(emptySwapsRun());
    assert.match(page, /Migration gap per swap: not drawn, no swaps recorded\./);
    assert.match(page, /Swap times \(ECDF\): not drawn, no swaps recorded\./);
    assert.match(page, /UDP datagrams affected per swap: not drawn, no per-swap UDP figures/);
    assert.match(page, /No swaps were recorded\./);
    assert.match(page, /class="verdict fail">FAIL</);
  });

  it('caps the per-swap table in a collapsed details element', () => {
    const page = html(pingRun());
    const table = page.slice(page.indexOf('<table class="swaps">'));
    const body = table.slice(table.indexOf('<tbody>'), table.indexOf('</tbody>'));
    assert.equal(body.match(/<tr>/g)?.length, SWAP_ROWS);
    assert.match(page, /<details>\n<summary>Per-swap figures: the first 200 of 1000 swaps/);
    const small = html(tcpResetRun());
    assert.match(small, /<summary>Per-swap figures: all 3 swaps<\/summary>/);
  });

  it('shows a table per traffic kind', () => {
    const page = html(udpRun());
    assert.match(page, /<h3>UDP load<\/h3>/);
    assert.match(page, /<h3>UDP lines \(ncat\)<\/h3>/);
    assert.match(page, /<td>lines missing<\/td><td>2<\/td>/);
    assert.doesNotMatch(page, /<h3>Ping/);
    const tcp = html(tcpResetRun());
    assert.match(tcp, /<td>ended<\/td><td>reset<\/td>/);
    assert.match(tcp, /<td>after swap<\/td><td>#1, 1.20 ms after it was issued<\/td>/);
    assert.match(
      tcp,
      /<td>as the flow&#39;s tcp policy promises<\/td><td>yes \(policy reset\)<\/td>/,
    );
  });
});

describe('reportFigures', () => {
  it('summarises the swaps: latency and gap percentiles, in-flight total', () => {
    const r = pingRun();
    const rows = new Map(reportFigures(r).swaps.rows);
    assert.equal(rows.get('swaps'), '1,000');
    const gaps = r.swaps.flatMap((s) => (s.gapMs === null ? [] : [s.gapMs])).sort((a, b) => a - b);
    const p50 = gaps[Math.ceil(gaps.length / 2) - 1] ?? 0;
    const max = gaps.at(-1) ?? 0;
    assert.match(
      rows.get('migration gap p50 / p99 / max') ?? '',
      new RegExp(`^${p50.toFixed(3)} ms / .* / ${max.toFixed(3)} ms \\(${gaps.length} measured`),
    );
    const inFlight = r.swaps.reduce((a, s) => a + (s.inFlight ?? 0), 0);
    assert.match(
      rows.get('packets in flight to the old server') ?? '',
      new RegExp(`^${inFlight.toLocaleString('en')} in all`),
    );
    assert.match(
      rows.get('swap issued → flow moved p50 / p99 / max') ?? '',
      /^[\d.]+ ms \/ [\d.]+ ms \/ [\d.]+ ms$/,
    );
  });

  it('says what was not measured', () => {
    const rows = new Map(reportFigures(tcpResetRun()).swaps.rows);
    assert.equal(rows.get('migration gap p50 / p99 / max'), 'not measured');
    assert.equal(rows.get('packets in flight to the old server'), 'not measured');
  });
});

describe('renderMarkdown', () => {
  it('has the figures as tables and links the SVG plots', () => {
    const md = markdown(pingRun());
    assert.match(md, /^# flowmig experiment 20261125T093000Z-default\n/);
    assert.match(md, /\*\*Verdict: PASS\*\*/);
    assert.match(md, /## Swaps\n\n\| measure \| value \|\n\| --- \| --- \|\n\| swaps \| 1,000 \|/);
    for (const name of ['packets', 'gaps', 'swap-latency', 'rtt']) {
      assert.match(md, new RegExp(`!\\[[^\\]]+\\]\\(plots/${name}\\.svg\\)`));
    }
    assert.match(md, /- UDP datagrams affected per swap: not drawn, no per-swap UDP figures/);
    assert.match(md, /- \[snmp6\/C\.txt\]\(snmp6\/C\.txt\)/);
  });

  it('escapes strings from the results', () => {
    const md = markdown(hostile());
    // Only backslash-escaped angle brackets, which Markdown shows as text.
    assert.doesNotMatch(md, /(^|[^\\])<(script|img)/im);
    assert.match(md, /\\<script\\>alert\(1\)\\<\/script\\>/);
    assert.equal(escapeMarkdown('a|b\nc'), 'a\\|b c');
    assert.equal(escapeMarkdown('- not a list'), '\\- not a list');
    assert.equal(escapeMarkdown('1. not a list'), '1\\. not a list');
    assert.equal(escapeMarkdown('10.0 s'), '10.0 s');
    assert.match(md, /\]\(javascript%3Aalert%281%29\)/);
  });

  it('escapes HTML text', () => {
    assert.equal(
      escapeHtml(`<a href="x">'&'</a>`),
      '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;',
    );
  });
});
