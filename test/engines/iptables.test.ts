import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FlowMapping } from '../../src/engines/engine.js';
import {
  BACK_COMMENT,
  DNAT_CHAIN,
  iptablesEngine,
  parseNatTable,
  renderRestore,
  renderRules,
  SNAT_CHAIN,
} from '../../src/engines/iptables.js';
import { engineFor } from '../../src/engines/registry.js';
import { M1, M2 } from '../support/mappings.js';
import { NAT_SAVE_TWO_FLOWS, natSave } from '../support/samples.js';
import { mappingsAfter, programOp, stdinOf } from './ops.js';

const M3: FlowMapping = {
  address: 'fe00::3',
  initiatorAddress: 'fc03::1',
  responderAddress: 'fc01::1',
};

describe('renderRestore', () => {
  it('with hooks: declares both chains, jumps to them, then the rules, then COMMIT', () => {
    assert.equal(
      renderRestore([M1], true),
      [
        '*nat',
        ':FLOWMIG-DNAT - [0:0]',
        ':FLOWMIG-SNAT - [0:0]',
        '-A PREROUTING -j FLOWMIG-DNAT',
        '-A POSTROUTING -j FLOWMIG-SNAT',
        '-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::1/128 -j DNAT --to-destination fc01::1',
        '-A FLOWMIG-DNAT -s fc01::1/128 -d fe00::1/128 -m comment --comment flowmig-back -j DNAT --to-destination fc00::1',
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::1/128 -j SNAT --to-source fe00::1',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('without hooks: the same chains and rules, no jumps (a replace must not add them twice)', () => {
    assert.equal(
      renderRestore([M1, M2], false),
      [
        '*nat',
        ':FLOWMIG-DNAT - [0:0]',
        ':FLOWMIG-SNAT - [0:0]',
        '-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::1/128 -j DNAT --to-destination fc01::1',
        '-A FLOWMIG-DNAT -s fc01::1/128 -d fe00::1/128 -m comment --comment flowmig-back -j DNAT --to-destination fc00::1',
        '-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::2/128 -j DNAT --to-destination fc02::2',
        '-A FLOWMIG-DNAT -s fc02::2/128 -d fe00::2/128 -m comment --comment flowmig-back -j DNAT --to-destination fc00::1',
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::1/128 -j SNAT --to-source fe00::1',
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::2/128 -j SNAT --to-source fe00::2',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('with no mappings still declares (and so flushes) both chains', () => {
    assert.equal(
      renderRestore([], false),
      '*nat\n:FLOWMIG-DNAT - [0:0]\n:FLOWMIG-SNAT - [0:0]\nCOMMIT\n',
    );
  });

  it('is one table, one COMMIT: a single transaction', () => {
    const text = renderRestore([M1, M2, M3], true);
    assert.equal(text.match(/^\*/gm)?.length, 1);
    assert.equal(text.match(/^COMMIT$/gm)?.length, 1);
    assert.ok(text.endsWith('COMMIT\n'));
    // Only flowmig's own chains get rules appended, besides the two jumps.
    for (const line of text.split('\n').filter((l) => l.startsWith('-A '))) {
      assert.match(
        line,
        /^-A (FLOWMIG-DNAT|FLOWMIG-SNAT|PREROUTING -j FLOWMIG-DNAT$|POSTROUTING -j FLOWMIG-SNAT$)/,
      );
    }
  });

  it('renderRules: per flow a DNAT there and back, and one SNAT of translated connections by original destination', () => {
    const rules = renderRules([M1, M3]);
    assert.equal(rules.length, 6);
    assert.equal(rules.filter((r) => r.startsWith(`-A ${DNAT_CHAIN} `)).length, 4);
    assert.equal(rules.filter((r) => r.includes(`--comment ${BACK_COMMENT} `)).length, 2);
    assert.ok(
      rules.every((r) => r.startsWith(`-A ${DNAT_CHAIN} `) || r.startsWith(`-A ${SNAT_CHAIN} `)),
    );
    assert.deepEqual(
      rules.filter((r) => r.includes('fe00::3')),
      [
        '-A FLOWMIG-DNAT -s fc03::1/128 -d fe00::3/128 -j DNAT --to-destination fc01::1',
        '-A FLOWMIG-DNAT -s fc01::1/128 -d fe00::3/128 -m comment --comment flowmig-back -j DNAT --to-destination fc03::1',
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::3/128 -j SNAT --to-source fe00::3',
      ],
    );
  });

  it('renderRules: one SNAT rule per flow, for both directions, matching no source', () => {
    const snat = renderRules([M1, M2, M3]).filter((r) => r.startsWith(`-A ${SNAT_CHAIN} `));
    assert.equal(snat.length, 3);
    for (const r of snat) {
      // Only connections a DNAT rule translated; whichever end opened it.
      assert.match(r, / -m conntrack --ctstate DNAT --ctorigdst \S+\/128 -j SNAT --to-source /);
      assert.doesNotMatch(r, / -s /);
    }
  });

  it('renderRules: flows sharing a node are each rewritten to their own abstract address', () => {
    // M1 and M2 share the initiator fc00::1; M1 and M3 share the responder fc01::1.
    const rules = renderRules([M1, M2, M3]).filter((r) => r.startsWith(`-A ${SNAT_CHAIN} `));
    assert.deepEqual(
      rules.map((r) => r.replace(/.*--ctorigdst (\S+) .*--to-source (\S+)$/, '$1>$2')),
      ['fe00::1/128>fe00::1', 'fe00::2/128>fe00::2', 'fe00::3/128>fe00::3'],
    );
  });
});

describe('parseNatTable', () => {
  const sets: [string, FlowMapping[]][] = [
    ['no flows', []],
    ['one flow', [M1]],
    ['two flows sharing an initiator', [M1, M2]],
    ['three flows, two sharing a responder', [M1, M2, M3]],
  ];
  for (const [what, mappings] of sets) {
    for (const hooks of [true, false]) {
      it(`reads back what renderRestore wrote: ${what}, ${hooks ? 'with' : 'without'} hooks`, () => {
        const table = parseNatTable(renderRestore(mappings, hooks));
        assert.deepEqual(table.mappings, mappings);
        assert.equal(table.installed, hooks);
      });
    }
  }

  it('real ip6tables-save -t nat output keeps one SNAT rule per flow with --ctstate DNAT', () => {
    assert.deepEqual(
      NAT_SAVE_TWO_FLOWS.split('\n').filter((l) => l.startsWith('-A FLOWMIG-SNAT')),
      [
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::1 -j SNAT --to-source fe00::1',
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::2 -j SNAT --to-source fe00::2',
      ],
    );
  });

  it('reads real ip6tables-save -t nat output (--ctorigdst without /128)', () => {
    assert.deepEqual(parseNatTable(NAT_SAVE_TWO_FLOWS), { installed: true, mappings: [M1, M2] });
  });

  it('natSave (the test helper) prints what ip6tables-save printed', () => {
    assert.equal(natSave([M1, M2], true), NAT_SAVE_TWO_FLOWS);
  });

  it('reads the same output without the jump lines as not installed', () => {
    const text = NAT_SAVE_TWO_FLOWS.split('\n')
      .filter((l) => !/^-A (PRE|POST)ROUTING -j FLOWMIG/.test(l))
      .join('\n');
    assert.deepEqual(parseNatTable(text), { installed: false, mappings: [M1, M2] });
  });

  it('needs both jumps to count as installed', () => {
    const onlyPre = NAT_SAVE_TWO_FLOWS.replace('-A POSTROUTING -j FLOWMIG-SNAT\n', '');
    const onlyPost = NAT_SAVE_TWO_FLOWS.replace('-A PREROUTING -j FLOWMIG-DNAT\n', '');
    assert.equal(parseNatTable(onlyPre).installed, false);
    assert.equal(parseNatTable(onlyPost).installed, false);
  });

  it('ignores rules that are not flowmig’s', () => {
    const text = natSave([M1], true).replace(
      'COMMIT',
      [
        '-A PREROUTING -d 2001:db8::1/128 -p tcp -m tcp --dport 80 -j DNAT --to-destination [fd00::5]:8080',
        '-A PREROUTING -d fe00::9/128 -j DNAT --to-destination fc05::1',
        '-A POSTROUTING -o eth0 -j MASQUERADE',
        '-A OTHER-DNAT -d fe00::8/128 -j DNAT --to-destination fc06::1',
        '-A OTHER-DNAT -s fc00::1/128 -d fe00::7/128 -j DNAT --to-destination fc06::1',
        'COMMIT',
      ].join('\n'),
    );
    assert.deepEqual(parseNatTable(text), { installed: true, mappings: [M1] });
  });

  it('an empty nat table (flowmig never ran here) has no mappings and is not installed', () => {
    const empty = [
      '# Generated by ip6tables-save v1.8.9 (nf_tables) on Wed Nov 25 02:06:16 2026',
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      'COMMIT',
      '',
    ].join('\n');
    assert.deepEqual(parseNatTable(empty), { installed: false, mappings: [] });
    assert.deepEqual(parseNatTable(''), { installed: false, mappings: [] });
  });

  it('a DNAT rule without its way back gives an empty responder (not in sync)', () => {
    const text = '-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::1/128 -j DNAT --to-destination fc01::1\n';
    assert.deepEqual(parseNatTable(text).mappings, [
      { address: 'fe00::1', initiatorAddress: 'fc00::1', responderAddress: '' },
    ]);
  });

  it('a way back from another responder or to another initiator does not count', () => {
    const forward =
      '-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::1/128 -j DNAT --to-destination fc01::1';
    const back = (from: string, to: string) =>
      `-A FLOWMIG-DNAT -s ${from}/128 -d fe00::1/128 -m comment --comment flowmig-back -j DNAT --to-destination ${to}`;
    const responder = (text: string) => parseNatTable(text).mappings[0]?.responderAddress;
    assert.equal(responder([forward, back('fc01::1', 'fc00::1')].join('\n')), 'fc01::1');
    assert.equal(responder([forward, back('fc02::2', 'fc00::1')].join('\n')), '');
    assert.equal(responder([forward, back('fc01::1', 'fc03::1')].join('\n')), '');
  });

  it('a way back alone is no mapping', () => {
    const text =
      '-A FLOWMIG-DNAT -s fc01::1/128 -d fe00::1/128 -m comment --comment flowmig-back -j DNAT --to-destination fc00::1\n';
    assert.deepEqual(parseNatTable(text).mappings, []);
  });

  it('SNAT rules alone are no mapping (the DNAT rules name the flows)', () => {
    const text = NAT_SAVE_TWO_FLOWS.split('\n')
      .filter((l) => !l.startsWith('-A FLOWMIG-DNAT'))
      .join('\n');
    assert.deepEqual(parseNatTable(text), { installed: true, mappings: [] });
  });

  it('tolerates CRLF line ends and indentation', () => {
    const text = renderRestore([M1], true)
      .split('\n')
      .map((l) => `  ${l}\r`)
      .join('\n');
    assert.deepEqual(parseNatTable(text), { installed: true, mappings: [M1] });
  });
});

describe('iptablesEngine', () => {
  it('is the engine registered as iptables', () => {
    assert.equal(engineFor('iptables'), iptablesEngine);
    assert.equal(iptablesEngine.name, 'iptables');
    // nft for the late-packet table: ip6tables has no stateless address rewrite.
    assert.deepEqual([...iptablesEngine.programs].sort(), [
      'ip6tables-restore',
      'ip6tables-save',
      'nft',
    ]);
    assert.equal(iptablesEngine.programs[0], 'ip6tables-restore');
    assert.equal(iptablesEngine.fastPath, undefined);
  });

  it('install is one ip6tables-restore --noflush with the hooks', () => {
    assert.deepEqual(iptablesEngine.install('t1-B', [M1]), {
      kind: 'netfilterApply',
      netns: 't1-B',
      argv: ['ip6tables-restore', '-w', '--noflush'],
      stdin: renderRestore([M1], true),
      summary: 'ip6tables: install 1 flow(s)',
    });
  });

  it('replace is one ip6tables-restore --noflush without the hooks', () => {
    assert.deepEqual(iptablesEngine.replace('B', [M1, M2]), {
      kind: 'netfilterApply',
      netns: 'B',
      argv: ['ip6tables-restore', '-w', '--noflush'],
      stdin: renderRestore([M1, M2], false),
      summary: 'ip6tables: set fe00::1→fc01::1, fe00::2→fc02::2',
    });
  });

  it('update restates the whole table (no cheaper atomic way in ip6tables), naming what moved', () => {
    const moved = { ...M1, responderAddress: 'fc02::2' };
    const op = programOp(
      iptablesEngine.update('B', [{ before: M1, after: moved }], () => [moved, M2]),
    );
    assert.equal(op.kind, 'netfilterApply');
    assert.equal(op.netns, 'B');
    assert.deepEqual(op.argv, ['ip6tables-restore', '-w', '--noflush']);
    assert.equal(op.stdin, renderRestore([moved, M2], false));
    assert.equal(op.summary, 'ip6tables: set fe00::1→fc02::2');
  });

  it('uninstall leaves the rules to go with the namespace', () => {
    assert.equal(iptablesEngine.uninstall('B'), undefined);
  });

  it('in a fake translator, a transaction leaves its table, whatever was there before', () => {
    const installed = iptablesEngine.install('B', [M1, M3]);
    const op = iptablesEngine.replace('B', [M2]);
    assert.deepEqual(mappingsAfter(iptablesEngine, [installed, op]), [M2]);
    assert.deepEqual(mappingsAfter(iptablesEngine, [installed]), [M1, M3]);
    const moved = { ...M1, responderAddress: 'fc02::2' };
    const update = iptablesEngine.update('B', [{ before: M1, after: moved }], () => [moved, M3]);
    assert.deepEqual(mappingsAfter(iptablesEngine, [installed, update]), [moved, M3]);
  });

  it('inspects with ip6tables-save -t nat in the translator and parses its output', () => {
    assert.deepEqual(iptablesEngine.inspect('B'), {
      argv: ['ip6tables-save', '-t', 'nat'],
      netns: 'B',
    });
    assert.deepEqual(iptablesEngine.parse(NAT_SAVE_TWO_FLOWS), parseNatTable(NAT_SAVE_TWO_FLOWS));
  });
});

describe('iptablesEngine.repair', () => {
  const restore = ['ip6tables-restore', '-w', '--noflush'];

  it('jumps in place (installed): both chains redeclared (so flushed) and refilled, no jumps', () => {
    const op = iptablesEngine.repair('t1-B', [M1, M2], { installed: true, mappings: [M1] });
    assert.deepEqual(op, {
      kind: 'netfilterApply',
      netns: 't1-B',
      argv: restore,
      stdin: [
        '*nat',
        ':FLOWMIG-DNAT - [0:0]',
        ':FLOWMIG-SNAT - [0:0]',
        '-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::1/128 -j DNAT --to-destination fc01::1',
        '-A FLOWMIG-DNAT -s fc01::1/128 -d fe00::1/128 -m comment --comment flowmig-back -j DNAT --to-destination fc00::1',
        '-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::2/128 -j DNAT --to-destination fc02::2',
        '-A FLOWMIG-DNAT -s fc02::2/128 -d fe00::2/128 -m comment --comment flowmig-back -j DNAT --to-destination fc00::1',
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::1/128 -j SNAT --to-source fe00::1',
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::2/128 -j SNAT --to-source fe00::2',
        'COMMIT',
        '',
      ].join('\n'),
      summary: 'ip6tables: chains restated',
    });
  });

  it('jumps missing (not installed): the same, with the two jumps', () => {
    const op = programOp(iptablesEngine.repair('B', [M1], { installed: false, mappings: [] }));
    assert.deepEqual(op.argv, restore);
    assert.equal(op.netns, 'B');
    assert.equal(
      op.stdin,
      [
        '*nat',
        ':FLOWMIG-DNAT - [0:0]',
        ':FLOWMIG-SNAT - [0:0]',
        '-A PREROUTING -j FLOWMIG-DNAT',
        '-A POSTROUTING -j FLOWMIG-SNAT',
        '-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::1/128 -j DNAT --to-destination fc01::1',
        '-A FLOWMIG-DNAT -s fc01::1/128 -d fe00::1/128 -m comment --comment flowmig-back -j DNAT --to-destination fc00::1',
        '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::1/128 -j SNAT --to-source fe00::1',
        'COMMIT',
        '',
      ].join('\n'),
    );
    assert.equal(op.summary, 'ip6tables: chains restated');
  });

  it('withHooks follows kernel.installed as parsed from ip6tables-save', () => {
    const unhooked = NAT_SAVE_TWO_FLOWS.split('\n')
      .filter((l) => !/^-A (PRE|POST)ROUTING -j FLOWMIG/.test(l))
      .join('\n');
    const jumps = (text: string) =>
      programOp(iptablesEngine.repair('B', [M1], parseNatTable(text)))
        .stdin.split('\n')
        .filter((l) => /^-A (PRE|POST)ROUTING /.test(l));
    assert.deepEqual(jumps(NAT_SAVE_TWO_FLOWS), []);
    assert.deepEqual(jumps(unhooked), [
      '-A PREROUTING -j FLOWMIG-DNAT',
      '-A POSTROUTING -j FLOWMIG-SNAT',
    ]);
    assert.deepEqual(jumps(''), [
      '-A PREROUTING -j FLOWMIG-DNAT',
      '-A POSTROUTING -j FLOWMIG-SNAT',
    ]);
  });

  it('with one jump missing, only that one is added (the other stays single)', () => {
    const without = (jump: string) =>
      NAT_SAVE_TWO_FLOWS.split('\n')
        .filter((l) => l !== jump)
        .join('\n');
    const noPost = parseNatTable(without('-A POSTROUTING -j FLOWMIG-SNAT'));
    assert.equal(noPost.installed, false);
    assert.deepEqual(noPost.missingHooks, ['POSTROUTING']);
    const jumps = (kernel: ReturnType<typeof parseNatTable>) =>
      programOp(iptablesEngine.repair('B', [M1], kernel))
        .stdin.split('\n')
        .filter((l) => /^-A (PRE|POST)ROUTING /.test(l));
    assert.deepEqual(jumps(noPost), ['-A POSTROUTING -j FLOWMIG-SNAT']);
    const noPre = parseNatTable(without('-A PREROUTING -j FLOWMIG-DNAT'));
    assert.deepEqual(noPre.missingHooks, ['PREROUTING']);
    assert.deepEqual(jumps(noPre), ['-A PREROUTING -j FLOWMIG-DNAT']);
    // Both present or both missing: no list (installed says it all).
    assert.equal(parseNatTable(NAT_SAVE_TWO_FLOWS).missingHooks, undefined);
    assert.equal(parseNatTable('').missingHooks, undefined);
  });

  it('only installed matters: the kernel’s mappings and foreign rules do not change the script', () => {
    const a = programOp(iptablesEngine.repair('B', [M1, M3], { installed: true, mappings: [] }));
    const b = programOp(
      iptablesEngine.repair('B', [M1, M3], {
        installed: true,
        mappings: [M2],
        foreignRules: 3,
      }),
    );
    assert.equal(a.stdin, b.stdin);
    assert.equal(a.stdin, renderRestore([M1, M3], false));
    assert.equal(
      stdinOf(
        iptablesEngine.repair('B', [M1, M3], { installed: false, mappings: [M1], foreignRules: 1 }),
      ),
      renderRestore([M1, M3], true),
    );
  });

  it('one transaction that writes only flowmig’s chains (and the jumps)', () => {
    const text = stdinOf(
      iptablesEngine.repair('B', [M1, M2, M3], { installed: false, mappings: [] }),
    );
    assert.equal(text.match(/^\*/gm)?.length, 1);
    assert.equal(text.match(/^COMMIT$/gm)?.length, 1);
    for (const line of text.split('\n').filter((l) => l.startsWith(':') || l.startsWith('-'))) {
      assert.match(
        line,
        /^(:FLOWMIG-(DNAT|SNAT) - \[0:0\]|-A FLOWMIG-(DNAT|SNAT) |-A PREROUTING -j FLOWMIG-DNAT$|-A POSTROUTING -j FLOWMIG-SNAT$)/,
      );
    }
  });

  it('simulated, leaves exactly the given mappings, and reads back as installed with no foreign rule', () => {
    const op = programOp(iptablesEngine.repair('B', [M1, M2], { installed: false, mappings: [] }));
    // Over a table that holds M3, its chains flushed and refilled.
    const before = iptablesEngine.install('B', [M3]);
    assert.deepEqual(mappingsAfter(iptablesEngine, [before, op]), [M1, M2]);
    assert.deepEqual(parseNatTable(op.stdin), { installed: true, mappings: [M1, M2] });
  });
});

describe('parseNatTable: foreign rules', () => {
  // Lines as ip6tables-save v1.8.9 printed them after `ip6tables -t nat -A FLOWMIG-DNAT -s fc09::9
  // -j ACCEPT` and `ip6tables -t nat -A FLOWMIG-SNAT -o lo -j MASQUERADE` on flowmig's install.
  const FOREIGN_DNAT = '-A FLOWMIG-DNAT -s fc09::9/128 -j ACCEPT';
  const FOREIGN_SNAT = '-A FLOWMIG-SNAT -o lo -j MASQUERADE';
  const withLines = (...lines: string[]) =>
    NAT_SAVE_TWO_FLOWS.replace('COMMIT\n', `${lines.join('\n')}\nCOMMIT\n`);

  it('a foreign DNAT rule of another shape (a port match) is foreign, not a broken flow', () => {
    const r = parseNatTable(
      withLines(
        '-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::9/128 -p tcp -m tcp --dport 80 -j DNAT --to-destination fc01::1',
      ),
    );
    assert.equal(r.foreignRules, 1);
    assert.deepEqual(
      r.mappings.map((m) => m.address),
      [M1.address, M2.address],
    );
  });

  it('a foreign rule in each of flowmig’s chains: two, the flows still read', () => {
    assert.deepEqual(parseNatTable(withLines(FOREIGN_DNAT, FOREIGN_SNAT)), {
      installed: true,
      mappings: [M1, M2],
      foreignRules: 2,
    });
  });

  it('counts each chain’s foreign rules wherever they stand in it', () => {
    const text = NAT_SAVE_TWO_FLOWS.replace(
      '-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::1/128',
      `${FOREIGN_DNAT}\n-A FLOWMIG-DNAT -s fc00::1/128 -d fe00::1/128`,
    );
    assert.equal(parseNatTable(text).foreignRules, 1);
    assert.equal(parseNatTable(withLines(FOREIGN_SNAT)).foreignRules, 1);
    assert.equal(
      parseNatTable(withLines(FOREIGN_DNAT, FOREIGN_DNAT, FOREIGN_SNAT)).foreignRules,
      3,
    );
  });

  it('a SNAT rule not of flowmig’s shape in its chain is foreign', () => {
    const text = withLines(
      '-A FLOWMIG-SNAT -m conntrack --ctstate DNAT --ctorigdst fe00::1 -j MASQUERADE',
      '-A FLOWMIG-SNAT -s fc00::1/128 -m conntrack --ctstate DNAT --ctorigdst fe00::1 -j SNAT --to-source fe00::1',
    );
    assert.equal(parseNatTable(text).foreignRules, 2);
  });

  it('flowmig’s own rules, as saved or as written, are not foreign: the key is absent', () => {
    for (const text of [
      NAT_SAVE_TWO_FLOWS,
      natSave([M1, M2, M3], false),
      renderRestore([M1, M2, M3], true),
      renderRestore([], false),
    ]) {
      assert.equal('foreignRules' in parseNatTable(text), false, text.slice(0, 80));
    }
  });

  it('rules in other chains, even ones named like flowmig’s, are not counted', () => {
    const text = withLines(
      '-A PREROUTING -d fe00::9/128 -j DNAT --to-destination fc05::1',
      '-A POSTROUTING -o eth0 -j MASQUERADE',
      '-A FLOWMIG-DNAT2 -j ACCEPT',
      '-A FLOWMIG-SNAT-OLD -j ACCEPT',
      '-A OTHER -j FLOWMIG-DNAT',
    );
    assert.deepEqual(parseNatTable(text), { installed: true, mappings: [M1, M2] });
  });
});
