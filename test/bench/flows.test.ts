import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { abstractAddress, syntheticMappings } from '../../src/bench/flows.js';
import { addressBytes, canonicalAddress } from '../../src/net/ipv6.js';

describe('abstractAddress', () => {
  const spots: [number, string][] = [
    [0, 'fe00::1'],
    [1, 'fe00::1:0'],
    [2, 'fe00::1:1'],
    [0xffff, 'fe00::1:fffe'],
    [0x10000, 'fe00::1:ffff'],
    [0x10001, 'fe00::2:0'],
    [200_000, 'fe00::4:d3f'],
  ];
  for (const [i, expected] of spots) {
    it(`abstractAddress(${i}) is ${expected}`, () => {
      assert.equal(abstractAddress(i), expected);
    });
  }

  it('is distinct, canonical and inside fe00::/16 for every i in 0..200000', () => {
    const seen = new Set<string>();
    for (let i = 0; i <= 200_000; i++) {
      const a = abstractAddress(i);
      seen.add(a);
      // Checking every address with the URL parser is slow; spot-check the canonical form.
      if (i % 997 === 0 || i < 3 || (i & 0xffff) < 2 || (i & 0xffff) > 0xfffd) {
        assert.equal(canonicalAddress(a), a, `abstractAddress(${i}) = ${a} is canonical`);
      }
      assert.ok(a.startsWith('fe00::'), a);
    }
    assert.equal(seen.size, 200_001);
  });

  it('the byte form is distinct too (no two spellings of one address)', () => {
    const bytes = new Set<string>();
    for (let i = 0; i <= 200_000; i += 7)
      bytes.add(addressBytes(abstractAddress(i)).toString('hex'));
    bytes.add(addressBytes(abstractAddress(200_000)).toString('hex'));
    assert.equal(bytes.size, Math.floor(200_000 / 7) + 2);
  });

  it('never yields fe00::1 again after flow 0', () => {
    for (let i = 1; i <= 0x20000; i++) assert.notEqual(abstractAddress(i), 'fe00::1');
  });
});

describe('syntheticMappings', () => {
  it('n mappings from the one initiator, addresses in order', () => {
    const ms = syntheticMappings(5, 'fc00::1', ['fc01::1', 'fc02::2']);
    assert.equal(ms.length, 5);
    assert.deepEqual(
      ms.map((m) => m.address),
      [0, 1, 2, 3, 4].map(abstractAddress),
    );
    for (const m of ms) assert.equal(m.initiatorAddress, 'fc00::1');
  });

  it('flow 0 starts on the first server by default, the rest alternate (odd → first)', () => {
    const ms = syntheticMappings(5, 'fc00::1', ['fc01::1', 'fc02::2']);
    assert.deepEqual(
      ms.map((m) => m.responderAddress),
      ['fc01::1', 'fc02::2', 'fc01::1', 'fc02::2', 'fc01::1'],
    );
  });

  it('`first` places flow 0 only', () => {
    const ms = syntheticMappings(4, 'fc00::1', ['fc01::1', 'fc02::2'], 'fc02::2');
    assert.deepEqual(
      ms.map((m) => m.responderAddress),
      ['fc02::2', 'fc02::2', 'fc01::1', 'fc02::2'],
    );
  });

  it('exactly the FlowMapping fields', () => {
    const [m] = syntheticMappings(1, 'fc00::1', ['fc01::1', 'fc02::2']);
    assert.deepEqual(m, {
      address: 'fe00::1',
      initiatorAddress: 'fc00::1',
      responderAddress: 'fc01::1',
    });
  });

  it('n = 0 gives none; large n gives distinct addresses', () => {
    assert.deepEqual(syntheticMappings(0, 'fc00::1', ['fc01::1', 'fc02::2']), []);
    const ms = syntheticMappings(10_000, 'fc00::1', ['fc01::1', 'fc02::2']);
    assert.equal(new Set(ms.map((m) => m.address)).size, 10_000);
  });
});
