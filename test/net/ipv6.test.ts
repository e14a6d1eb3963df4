import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addressBytes,
  addressFromBytes,
  canonicalAddress,
  formatPrefix,
  inPrefix,
  parsePrefix,
  specialAddressReason,
} from '../../src/net/ipv6.js';

describe('canonicalAddress', () => {
  const valid: [string, string][] = [
    ['fe00::1', 'fe00::1'],
    ['FE00::1', 'fe00::1'],
    ['FE00:0::1', 'fe00::1'],
    ['fe00:0:0:0:0:0:0:1', 'fe00::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    // RFC 5952 4.2.3: of two equally long zero runs, the first is compressed.
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // RFC 5952 4.2.3: the longest run is compressed, wherever it is.
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    // RFC 5952 4.2.2: a single zero field is not compressed.
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['fc00::', 'fc00::'],
    ['FC01:0000::0001', 'fc01::1'],
  ];
  for (const [input, expected] of valid) {
    it(`canonicalises ${input} to ${expected}`, () => {
      assert.equal(canonicalAddress(input), expected);
    });
  }

  const invalid = [
    '',
    'fe00',
    'fe00:::1',
    'fe00::1::2',
    'fe00::g',
    '12345::1',
    '1:2:3:4:5:6:7:8:9',
    '1.2.3.4',
    'fe00::1/64',
    ' fe00::1',
    'fe00::1 ',
    '[fe00::1]',
    'hello',
  ];
  for (const input of invalid) {
    it(`rejects ${JSON.stringify(input)}`, () => {
      assert.equal(canonicalAddress(input), undefined);
    });
  }

  for (const input of ['fe80::1%eth0', 'fe80::1%1', 'fe00::1%A-B']) {
    it(`rejects the zone id in ${input}`, () => {
      assert.equal(canonicalAddress(input), undefined);
    });
  }
});

describe('parsePrefix', () => {
  it('parses address and length, canonicalising the address', () => {
    assert.deepEqual(parsePrefix('fc00::1/64'), { address: 'fc00::1', length: 64 });
    assert.deepEqual(parsePrefix('FC00:0:0::1/64'), { address: 'fc00::1', length: 64 });
  });

  const lengths: [string, number | undefined][] = [
    ['0', undefined],
    ['1', 1],
    ['64', 64],
    ['128', 128],
    ['129', undefined],
    ['999', undefined],
    ['1000', undefined],
  ];
  for (const [len, expected] of lengths) {
    it(`length /${len} is ${expected === undefined ? 'rejected' : 'accepted'}`, () => {
      const p = parsePrefix(`fc00::1/${len}`);
      assert.equal(p?.length, expected);
      if (expected !== undefined) assert.equal(p?.address, 'fc00::1');
    });
  }

  const garbage = [
    '',
    'fc00::1',
    'fc00::1/',
    '/64',
    'fc00::1/64/1',
    'fc00::1/x',
    'fc00::1/-1',
    'fc00::1/ 64',
    'fc00::1 /64',
    'fc00::g/64',
    '10.0.0.1/24',
    'fe80::1%eth0/64',
    'default',
  ];
  for (const text of garbage) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      assert.equal(parsePrefix(text), undefined);
    });
  }

  it('formatPrefix gives back the canonical text', () => {
    const p = parsePrefix('FC00:0::1/64');
    assert.ok(p);
    assert.equal(formatPrefix(p), 'fc00::1/64');
  });
});

describe('inPrefix', () => {
  const cases: [string, string, boolean][] = [
    ['fc00::2', 'fc00::1/64', true],
    ['fc00::ffff:ffff:ffff:ffff', 'fc00::1/64', true],
    ['fc00:0:0:1::1', 'fc00::1/64', false],
    ['fc01::1', 'fc00::1/64', false],
    ['fc00::1', 'fc00::1/128', true],
    ['fc00::2', 'fc00::1/128', false],
    ['ffff::1', 'fc00::/1', true],
    ['8000::', 'fc00::/1', true],
    ['7fff:ffff::', 'fc00::/1', false],
    ['fc00::5', 'fc00::1/127', false],
    ['fc00::1', 'fc00::/127', true],
  ];
  for (const [address, prefix, expected] of cases) {
    it(`${address} ${expected ? 'is' : 'is not'} in ${prefix}`, () => {
      const p = parsePrefix(prefix);
      assert.ok(p);
      assert.equal(inPrefix(address, p), expected);
    });
  }
});

describe('specialAddressReason', () => {
  const special: [string, RegExp][] = [
    ['::', /unspecified/],
    ['::1', /loopback/],
    ['ff02::1', /multicast/],
    ['ff0e::1', /multicast/],
    ['ff00::', /multicast/],
    ['fe80::1', /link-local/],
    ['febf:ffff::1', /link-local/],
    ['::ffff:102:304', /IPv4-mapped/],
  ];
  for (const [address, reason] of special) {
    it(`${address} is refused: ${reason.source}`, () => {
      const why = specialAddressReason(address);
      assert.ok(why !== undefined);
      assert.match(why, reason);
    });
  }

  for (const address of ['fc00::1', 'fe00::1', 'fe7f::1', 'fec0::1', '2001:db8::1', 'feff::1']) {
    it(`${address} is an ordinary unicast address`, () => {
      assert.equal(specialAddressReason(address), undefined);
    });
  }
});

describe('addressBytes and addressFromBytes', () => {
  const cases: [string, string][] = [
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['fe00::1', 'fe000000000000000000000000000001'],
    ['fc00::', 'fc000000000000000000000000000000'],
    ['2001:db8::1:0:0:1', '20010db8000000000001000000000001'],
    ['1::', '00010000000000000000000000000000'],
    ['1:2:3:4:5:6:7:0', '00010002000300040005000600070000'],
    ['fc01:abcd:ef01:2345:6789:abcd:ef01:2345', 'fc01abcdef0123456789abcdef012345'],
  ];
  for (const [address, hex] of cases) {
    it(`${address} ⇄ ${hex}`, () => {
      assert.equal(addressBytes(address).toString('hex'), hex);
      assert.equal(addressFromBytes(Buffer.from(hex, 'hex')), address);
    });
  }

  it('accepts any spelling and gives back the canonical one', () => {
    assert.equal(addressFromBytes(addressBytes('FE00:0:0::0001')), 'fe00::1');
    assert.equal(
      addressBytes('1:2:3:4:5:6:7::').toString('hex'),
      '00010002000300040005000600070000',
    );
  });

  it('refuses what is not an IPv6 address', () => {
    for (const bad of ['fe00::g', '1.2.3.4', 'fe80::1%eth0', '']) {
      assert.throws(() => addressBytes(bad), /not an IPv6 address/, bad);
    }
  });
});

describe('addressBytes ⇄ addressFromBytes round trips', () => {
  const forms: [string, string][] = [
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['fe00::1:0', 'fe00::1:0'],
    ['fe00::1', 'fe00::1'],
    ['fe00:0:0:0:0:0:1:0', 'fe00::1:0'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    ['FE00::ABCD:Ef01', 'fe00::abcd:ef01'],
    ['Fc01:0DB8::1', 'fc01:db8::1'],
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['::1:2:3:4:5:6:7', '0:1:2:3:4:5:6:7'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['1::8', '1::8'],
    ['1:0:0:2::3', '1:0:0:2::3'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['0:0:1::', '0:0:1::'],
  ];
  for (const [input, canonical] of forms) {
    it(`${input} → bytes → ${canonical}, and the canonical text gives the same bytes`, () => {
      const bytes = addressBytes(input);
      assert.equal(bytes.length, 16);
      assert.equal(addressFromBytes(bytes), canonical);
      assert.equal(canonicalAddress(input), canonical, 'agrees with canonicalAddress');
      assert.deepEqual(addressBytes(canonical), bytes);
    });
  }

  it('every single-group value lands in the right place', () => {
    for (let g = 0; g < 8; g++) {
      const groups = ['0', '0', '0', '0', '0', '0', '0', '0'];
      groups[g] = 'abcd';
      const bytes = addressBytes(groups.join(':'));
      const expected = Buffer.alloc(16);
      expected.writeUInt16BE(0xabcd, g * 2);
      assert.deepEqual(bytes, expected, `group ${g}`);
      assert.deepEqual(addressBytes(addressFromBytes(bytes)), bytes, `group ${g} round trip`);
    }
  });

  it('random byte strings survive bytes → text → bytes', () => {
    let seed = 12345;
    const next = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let i = 0; i < 500; i++) {
      // zero runs make the compression cases likely
      const bytes = Buffer.from(Array.from({ length: 16 }, () => (next() < 96 ? 0 : next())));
      const text = addressFromBytes(bytes);
      assert.deepEqual(addressBytes(text), bytes, text);
      assert.equal(canonicalAddress(text), text, 'the text is canonical');
    }
  });

  it('addressFromBytes reads a view into a larger buffer (as in netlink attributes)', () => {
    const big = Buffer.concat([
      Buffer.from([9, 9, 9, 9]),
      addressBytes('fe00::1'),
      Buffer.from([7]),
    ]);
    assert.equal(addressFromBytes(big.subarray(4, 20)), 'fe00::1');
  });

  it('addressBytes returns a fresh buffer each time', () => {
    const a = addressBytes('fe00::1');
    a[0] = 0;
    assert.equal(addressBytes('fe00::1')[0], 0xfe);
  });

  const invalid = [
    '',
    ':',
    ':::',
    'fe00',
    'fe00::1::2',
    'fe00:::1',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '12345::1',
    'fe00::g',
    ' fe00::1',
    'fe00::1 ',
    '[fe00::1]',
    'fe00::1/128',
    '::ffff:1.2.3.4',
    '::1.2.3.4',
    '64:ff9b::192.0.2.1',
    '1.2.3.4',
    'fe80::1%eth0',
    'fe80::1%1',
    'localhost',
  ];
  for (const bad of invalid) {
    it(`addressBytes refuses ${JSON.stringify(bad)}`, () => {
      assert.throws(() => addressBytes(bad), /not an IPv6 address/);
    });
  }
});
