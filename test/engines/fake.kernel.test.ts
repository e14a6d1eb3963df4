// The fake translator against the kernel: the same operations applied to a namespace of this test
// (nft -f -, ip6tables-restore) and to the fake leave what `nft -j list table` and
// `ip6tables-save` print the same (but for handles, timers and the kernel's element order); a
// transaction the kernel refuses, the fake refuses too, and neither changes anything.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { FlowMapping } from '../../src/engines/engine.js';
import { FakeTranslator } from '../../src/engines/fake.js';
import { HOLD_TABLE, holdTable } from '../../src/engines/hold.js';
import { iptablesEngine } from '../../src/engines/iptables.js';
import { INITIATOR_MAP, LATE_TABLE, LATE_TABLE_DECL, lateTable } from '../../src/engines/late.js';
import { DNAT_MAP, FLOWMIG_TABLE, NFT_TABLE, nftablesEngine } from '../../src/engines/nftables.js';
import { CommandError } from '../../src/errors.js';
import { NftError } from '../../src/nft/fake.js';
import { setRef } from '../../src/nft/objects.js';
import { addElements, deleteElements, type Transaction } from '../../src/nft/transaction.js';
import { commandFor } from '../../src/plan/command.js';
import type { Op } from '../../src/plan/ops.js';
import { removeNamespacesWith, runner, uniquePrefix } from '../kernel-support/lab.js';
import { M1, M2 } from '../support/mappings.js';
import { withoutHandles } from './ops.js';

const prefix = uniquePrefix();
const M3: FlowMapping = {
  address: 'fe00::3',
  initiatorAddress: 'fc03::1',
  responderAddress: 'fc01::1',
};
const SWAP = [{ before: M1, after: { ...M1, responderAddress: 'fc02::2' } }];

/** A namespace of its own and a fake, fed the same operations. */
class Twin {
  readonly fake = new FakeTranslator();
  constructor(readonly netns: string) {}

  static async make(name: string): Promise<Twin> {
    const t = new Twin(`${prefix}${name}`);
    await runner.run(['ip', 'netns', 'add', t.netns]);
    return t;
  }

  async apply(...ops: (Op | undefined)[]): Promise<void> {
    for (const op of ops) {
      if (!op) continue;
      const c = commandFor(op);
      await runner.run(c.argv, { netns: this.netns, stdin: c.stdin });
      this.fake.apply(op);
    }
  }

  /** A transaction in both; whether each refused it. */
  async nft(tx: Transaction): Promise<{ kernel: boolean; fake: boolean }> {
    const op: Op = { kind: 'netfilterApply', netns: this.netns, summary: 'test', nft: tx };
    const c = commandFor(op);
    const kernel = await runner
      .run(c.argv, { netns: this.netns, stdin: c.stdin })
      .then(() => false)
      .catch((e: unknown) => e instanceof CommandError);
    let fake = false;
    try {
      this.fake.apply(op);
    } catch (error) {
      fake = error instanceof NftError;
    }
    return { kernel, fake };
  }

  /** What both print for a reading command: kernel's, fake's. */
  async read(argv: readonly string[]): Promise<[string, string]> {
    const real = await runner.run(argv, { netns: this.netns, okExitCodes: [0, 1] });
    return [real.exitCode === 0 ? real.stdout : '', this.fake.read(argv) ?? ''];
  }

  /** The listings of a table, comparable: no handles, no time left, elements sorted. */
  async table(name: string): Promise<[unknown, unknown]> {
    const [real, fake] = await this.read(['nft', '-j', 'list', 'table', 'ip6', name]);
    const clean = (text: string) =>
      text
        ? JSON.parse(JSON.stringify(withoutHandles(text)).replace(/,"expires":[0-9.]+/g, ''))
        : '';
    return [clean(real), clean(fake)];
  }

  /** ip6tables-save of a table without its comment lines (dates). */
  async saved(table: string): Promise<[string, string]> {
    const [real, fake] = await this.read(['ip6tables-save', '-t', table]);
    const clean = (text: string) =>
      text
        .split('\n')
        .filter((l) => !l.startsWith('#'))
        .join('\n');
    return [clean(real), clean(fake)];
  }
}

describe('the fake translator agrees with the kernel', () => {
  after(async () => {
    await removeNamespacesWith(prefix);
  });

  it('nftables engine and late table: install, a swap with its release, a repair', async () => {
    const t = await Twin.make('nft');
    await t.apply(
      nftablesEngine.install(t.netns, [M1, M2, M3]),
      lateTable.install(t.netns, [M1, M2, M3]),
    );
    for (const name of [NFT_TABLE, LATE_TABLE]) {
      const [real, fake] = await t.table(name);
      assert.deepEqual(fake, real, name);
    }
    await t.apply(
      nftablesEngine.update(t.netns, SWAP, () => []),
      lateTable.update(t.netns, SWAP, 60_000),
      lateTable.release(t.netns, SWAP, 60_000),
    );
    for (const name of [NFT_TABLE, LATE_TABLE]) {
      const [real, fake] = await t.table(name);
      assert.deepEqual(fake, real, `${name} after a swap`);
    }
    await t.apply(
      nftablesEngine.repair(t.netns, [M1], { installed: true, mappings: [] }),
      lateTable.repair(t.netns, [M1]),
    );
    for (const name of [NFT_TABLE, LATE_TABLE]) {
      const [real, fake] = await t.table(name);
      assert.deepEqual(fake, real, `${name} after a repair`);
    }
    // And both read back the same way.
    const [real, fake] = await t.read(nftablesEngine.inspect(t.netns).argv);
    assert.deepEqual(nftablesEngine.parse(fake), nftablesEngine.parse(real));
  });

  it('what the kernel refuses the fake refuses, and neither changes', async () => {
    const t = await Twin.make('refuse');
    await t.apply(nftablesEngine.install(t.netns, [M1]), lateTable.install(t.netns, [M1]));
    const dnat = setRef(FLOWMIG_TABLE, DNAT_MAP);
    const initiators = setRef(LATE_TABLE_DECL, INITIATOR_MAP);
    const cases: [string, Transaction, boolean][] = [
      [
        'a missing element deleted',
        [deleteElements(dnat, [{ key: ['fc09::9', 'fe00::9'] }])],
        true,
      ],
      [
        'a map element added again with another value',
        [addElements(initiators, [{ key: ['fe00::1'], value: 'fc09::9' }])],
        true,
      ],
      [
        'a map element added again with the same value',
        [addElements(initiators, [{ key: ['fe00::1'], value: 'fc00::1' }])],
        false,
      ],
      [
        'a good add before a failing delete',
        [
          addElements(dnat, [{ key: ['fc00::2', 'fe00::2'], value: 'fc01::1' }]),
          deleteElements(dnat, [{ key: ['fc09::9', 'fe00::9'] }]),
        ],
        true,
      ],
    ];
    for (const [what, tx, refused] of cases) {
      assert.deepEqual(await t.nft(tx), { kernel: refused, fake: refused }, what);
      for (const name of [NFT_TABLE, LATE_TABLE]) {
        const [real, fake] = await t.table(name);
        assert.deepEqual(fake, real, `${name} after: ${what}`);
      }
    }
  });

  it('the hold table and its queueing rules: install, a held flow, a repair', async () => {
    const t = await Twin.make('hold');
    await t.apply(...holdTable.install(t.netns), holdTable.set(t.netns, M1, true));
    const [real, fake] = await t.table(HOLD_TABLE);
    assert.deepEqual(fake, real);
    for (const table of ['raw', 'mangle']) {
      const [savedReal, savedFake] = await t.saved(table);
      assert.equal(savedFake, savedReal, table);
    }
    const read = async () => Promise.all(holdTable.inspect(t.netns).map((c) => t.read(c.argv)));
    const outputs = await read();
    const held = holdTable.parse(outputs.map(([r]) => r));
    assert.deepEqual(holdTable.parse(outputs.map(([, f]) => f)), held);
    assert.deepEqual(held, { installed: true, held: [['fc00::1', 'fe00::1']], queueRules: true });
    await t.apply(...holdTable.repair(t.netns, held));
    const [afterReal, afterFake] = await t.table(HOLD_TABLE);
    assert.deepEqual(afterFake, afterReal, 'after a repair');
  });

  it('iptables engine: install, update and a repair of a missing jump', async () => {
    const t = await Twin.make('xt');
    await t.apply(iptablesEngine.install(t.netns, [M1, M2]));
    const [real, fake] = await t.saved('nat');
    assert.equal(fake, real);
    const moved = { ...M1, responderAddress: 'fc02::2' };
    await t.apply(iptablesEngine.update(t.netns, SWAP, () => [moved, M2]));
    const [real2, fake2] = await t.saved('nat');
    assert.equal(fake2, real2, 'after an update');
    assert.deepEqual(iptablesEngine.parse(fake2), iptablesEngine.parse(real2));
    await t.apply(iptablesEngine.repair(t.netns, [M1], { installed: true, mappings: [] }));
    const [real3, fake3] = await t.saved('nat');
    assert.equal(fake3, real3, 'after a repair');
  });
});
