import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ConntrackEntry,
  parseConntrackList,
  parseDeletedCount,
} from '../../src/engines/conntrack.js';

describe('parseDeletedCount', () => {
  const cases: [string, number | undefined][] = [
    ['conntrack v1.4.7 (conntrack-tools): 2 flow entries have been deleted.\n', 2],
    ['conntrack v1.4.7 (conntrack-tools): 1 flow entries have been deleted.\n', 1],
    ['conntrack v1.4.7 (conntrack-tools): 1 flow entry has been deleted.\n', 1],
    ['conntrack v1.4.7 (conntrack-tools): 0 flow entries have been deleted.\n', 0],
    ['conntrack v1.4.6 (conntrack-tools): 123456 flow entries have been deleted.', 123456],
    [
      'NOTICE: something first\nconntrack v1.4.7 (conntrack-tools): 3 flow entries have been deleted.\n',
      3,
    ],
    // `conntrack -L` says "shown": not a delete count.
    ['conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.\n', undefined],
    [
      "conntrack v1.4.7 (conntrack-tools): Operation failed: such conntrack doesn't exist\n",
      undefined,
    ],
    ['conntrack: command not found', undefined],
    ['garbage', undefined],
    ['', undefined],
  ];
  for (const [stderr, expected] of cases) {
    it(`${JSON.stringify(stderr.trim().slice(-48))} → ${String(expected)}`, () => {
      assert.equal(parseDeletedCount(stderr), expected);
    });
  }
});

describe('parseConntrackList', () => {
  const cases: [string, string, ConntrackEntry[]][] = [
    [
      'an ICMPv6 echo through the translator',
      'icmpv6   58 29 src=fc00::1 dst=fe00::1 type=128 code=0 id=2252 src=fc01::1 dst=fe00::1 type=129 code=0 id=2252 mark=0 use=1',
      [
        {
          protocol: 'icmpv6',
          origSrc: 'fc00::1',
          origDst: 'fe00::1',
          replySrc: 'fc01::1',
          replyDst: 'fe00::1',
        },
      ],
    ],
    [
      'an unreplied UDP flow',
      'udp      17 29 src=fc00::1 dst=fe00::1 sport=40000 dport=5555 [UNREPLIED] src=fc01::1 dst=fe00::1 sport=5555 dport=40000 mark=0 use=1',
      [
        {
          protocol: 'udp',
          origSrc: 'fc00::1',
          origDst: 'fe00::1',
          replySrc: 'fc01::1',
          replyDst: 'fe00::1',
        },
      ],
    ],
    [
      'an established TCP connection',
      'tcp      6 431999 ESTABLISHED src=fc00::1 dst=fe00::1 sport=41234 dport=80 src=fc02::2 dst=fe00::1 sport=80 dport=41234 [ASSURED] mark=0 use=1',
      [
        {
          protocol: 'tcp',
          origSrc: 'fc00::1',
          origDst: 'fe00::1',
          replySrc: 'fc02::2',
          replyDst: 'fe00::1',
        },
      ],
    ],
    [
      'an event line (conntrack -E)',
      '    [NEW] udp      17 30 src=fc00::1 dst=fe00::1 sport=40000 dport=5555 [UNREPLIED] src=fc01::1 dst=fe00::1 sport=5555 dport=40000',
      [
        {
          protocol: 'udp',
          origSrc: 'fc00::1',
          origDst: 'fe00::1',
          replySrc: 'fc01::1',
          replyDst: 'fe00::1',
        },
      ],
    ],
    [
      'a destroy event',
      ' [DESTROY] icmpv6   58 src=fc00::1 dst=fe00::1 type=128 code=0 id=7 src=fc02::2 dst=fe00::1 type=129 code=0 id=7',
      [
        {
          protocol: 'icmpv6',
          origSrc: 'fc00::1',
          origDst: 'fe00::1',
          replySrc: 'fc02::2',
          replyDst: 'fe00::1',
        },
      ],
    ],
    [
      'the extended format (-o extended)',
      'ipv6     10 udp      17 29 src=fc00::1 dst=fe00::2 sport=1 dport=2 src=fc02::2 dst=fe00::2 sport=2 dport=1 mark=0 use=1',
      [
        {
          protocol: 'udp',
          origSrc: 'fc00::1',
          origDst: 'fe00::2',
          replySrc: 'fc02::2',
          replyDst: 'fe00::2',
        },
      ],
    ],
  ];
  for (const [what, text, expected] of cases) {
    it(`parses ${what}`, () => {
      assert.deepEqual(parseConntrackList(text), expected);
    });
  }

  it('parses real `conntrack -L -f ipv6` output, skipping the summary line', () => {
    const text = [
      'udp      17 29 src=::1 dst=::1 sport=47083 dport=5555 [UNREPLIED] src=::1 dst=::1 sport=5555 dport=47083 mark=0 use=1',
      'icmpv6   58 29 src=::1 dst=::1 type=128 code=0 id=11202 src=::1 dst=::1 type=129 code=0 id=11202 mark=0 use=1',
      'conntrack v1.4.7 (conntrack-tools): 2 flow entries have been shown.',
      '',
    ].join('\n');
    const entries = parseConntrackList(text);
    assert.deepEqual(
      entries.map((e) => e.protocol),
      ['udp', 'icmpv6'],
    );
    assert.ok(entries.every((e) => e.origSrc === '::1' && e.replyDst === '::1'));
  });

  it('skips lines that are not entries', () => {
    const text = [
      '',
      'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.',
      'udp      17 29 src=fc00::1 dst=fe00::1 sport=1 dport=2',
      'random text src=a dst=b src=c dst=d',
    ].join('\n');
    assert.deepEqual(parseConntrackList(text), []);
  });

  it('keeps several entries in order', () => {
    const lines = [
      'icmpv6   58 29 src=fc00::1 dst=fe00::1 type=128 code=0 id=1 src=fc01::1 dst=fe00::1 type=129 code=0 id=1 mark=0 use=1',
      'icmpv6   58 29 src=fc00::1 dst=fe00::2 type=128 code=0 id=2 src=fc02::2 dst=fe00::2 type=129 code=0 id=2 mark=0 use=1',
    ];
    assert.deepEqual(
      parseConntrackList(lines.join('\n')).map((e) => [e.origDst, e.replySrc]),
      [
        ['fe00::1', 'fc01::1'],
        ['fe00::2', 'fc02::2'],
      ],
    );
  });
});
