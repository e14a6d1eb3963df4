// Reading sets back over netlink: the dump request's bytes, and the kernel's answers (captured in
// netlink-dump.json) parsed to elements; addresses written as canonicalAddress writes them.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { addressBytes, addressFromBytes, canonicalAddress } from '../../src/net/ipv6.js';
import {
  AF_INET6,
  attrs,
  messages,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  strAttr,
} from '../../src/netlink/codec.js';
import { addressAt, parseSetElements, setElementsDumpRequest } from '../../src/nft/netlink.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const CAPTURED = JSON.parse(
  readFileSync(join(ROOT, 'test', 'nft', 'netlink-dump.json'), 'utf8'),
) as { sets: Record<string, string[]> };

const bodies = (name: string) => (CAPTURED.sets[name] ?? []).map((h) => Buffer.from(h, 'hex'));

describe('setElementsDumpRequest', () => {
  it('is one NFT_MSG_GETSETELEM dump request for the table and set, family ip6', () => {
    const data = setElementsDumpRequest('flowmig', 'dnat_to', 77);
    const all = [...messages(data)];
    assert.equal(all.length, 1);
    const m = all[0];
    assert.ok(m);
    assert.equal(m.type, (10 << 8) | 13);
    assert.equal(m.flags, NLM_F_REQUEST | NLM_F_DUMP);
    assert.equal(m.seq, 77);
    assert.equal(m.body[0], AF_INET6);
    assert.deepEqual(
      [...attrs(m.body.subarray(4))].map((a) => a.raw),
      [strAttr(1, 'flowmig'), strAttr(2, 'dnat_to')],
    );
  });
});

describe('parseSetElements (captured answers)', () => {
  it('reads both maps of the nftables engine: keys as parts, values', () => {
    assert.deepEqual(parseSetElements(bodies('flowmig dnat_to')).elements, [
      { key: ['fc00::1', 'fe00::2'], value: 'fc01::1' },
      { key: ['fc00::1', 'fe00::1'], value: 'fc01::1' },
    ]);
    assert.deepEqual(parseSetElements(bodies('flowmig dnat_back')).elements, [
      { key: ['fc01::1', 'fe00::2'], value: 'fc00::1' },
      { key: ['fc01::1', 'fe00::1'], value: 'fc00::1' },
    ]);
    assert.deepEqual(parseSetElements(bodies('flowmig_late initiator_of')).elements, [
      { key: ['fe00::2'], value: 'fc00::1' },
      { key: ['fe00::1'], value: 'fc00::1' },
    ]);
  });

  it('reads a set with timeouts: no value, the timeout and the time left', () => {
    assert.deepEqual(parseSetElements(bodies('flowmig_late late_from')).elements, [
      { key: ['fc02::2', 'fe00::2'], timeoutMs: 5000, expiresMs: 4816 },
    ]);
  });

  it('gives the generation every message was read at (the last one empty)', () => {
    for (const name of Object.keys(CAPTURED.sets)) {
      assert.equal(bodies(name).length, 2, name);
      assert.deepEqual([...parseSetElements(bodies(name)).generations], [5], name);
    }
  });

  it('skips what it cannot read: truncated attributes, keys that are not addresses', () => {
    const whole = bodies('flowmig dnat_to')[0] ?? Buffer.alloc(0);
    for (let cut = 0; cut < whole.length; cut += 7) {
      const r = parseSetElements([whole.subarray(0, cut)]);
      assert.ok(r.elements.length <= 2);
      for (const e of r.elements) assert.equal(e.key.length, 2);
    }
    // A 4-byte key (an ipv4_addr set): not an element of flowmig's.
    const odd = Buffer.from(
      '0a000005' +
        '0c000100666c6f776d696700' +
        '0c000200646e61745f746f00' +
        '18000300' +
        '14000100' +
        '0c000100' +
        '08000100' +
        '0a000001' +
        '04000200',
      'hex',
    );
    assert.deepEqual(parseSetElements([odd]).elements, []);
    assert.deepEqual(parseSetElements([]), { elements: [], generations: new Set() });
  });
});

describe('addressAt', () => {
  it('writes addresses as canonicalAddress does (RFC 5952)', () => {
    const cases = [
      '::',
      '::1',
      '1::',
      'fe00::1',
      'fe00::1:0',
      '1:0:0:2:0:0:0:3',
      '1:0:0:2:0:0:3:4',
      '1:0:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8',
      '0:0:1:0:0:1:0:0',
      'fc00:ab:0:0:0:0:0:ffff',
    ];
    for (const text of cases) {
      const b = Buffer.concat([Buffer.from([9, 9]), addressBytes(text)]);
      assert.equal(addressAt(b, 2), canonicalAddress(text), text);
    }
    for (let i = 0; i < 2000; i++) {
      // Random groups, many of them zero, so runs of zeros of every length and place occur.
      const b = randomBytes(16);
      for (let g = 0; g < 8; g++) if ((b[g * 2] ?? 0) < 128) b.writeUInt16BE(0, g * 2);
      assert.equal(addressAt(b, 0), addressFromBytes(b), b.toString('hex'));
    }
  });
});
