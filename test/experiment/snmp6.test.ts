import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { delta, parseSnmp6 } from '../../src/experiment/snmp6.js';
import { SNMP6_SAMPLE } from '../support/samples.js';

describe('parseSnmp6', () => {
  it('reads every counter of a real /proc/net/snmp6 excerpt', () => {
    const c = parseSnmp6(SNMP6_SAMPLE);
    assert.equal(c.Ip6InReceives, 13);
    assert.equal(c.Ip6OutRequests, 22);
    assert.equal(c.Icmp6InEchos, 5);
    assert.equal(c.Icmp6InType128, 5);
    assert.equal(c.Ip6InNoRoutes, 0);
    assert.equal(c.Udp6InDatagrams, 4294967296);
    assert.equal(Object.keys(c).length, 12);
  });

  it('skips lines that are not "name value"', () => {
    const c = parseSnmp6(
      'Icmp6InEchos 42\n\ngarbage\nIcmp6OutEchos x\nIcmp6InErrors 1 2\nIcmp6OutMsgs   7   \n',
    );
    assert.deepEqual(c, { Icmp6InEchos: 42, Icmp6OutMsgs: 7 });
    assert.deepEqual(parseSnmp6(''), {});
  });
});

describe('delta', () => {
  const before = parseSnmp6('Icmp6InEchos 100\nIcmp6OutEchos 5\n');
  const after = parseSnmp6('Icmp6InEchos 250\nIcmp6OutEchos 5\nIcmp6InErrors 3\n');

  it('is after minus before', () => {
    assert.equal(delta(before, after, 'Icmp6InEchos'), 150);
    assert.equal(delta(before, after, 'Icmp6OutEchos'), 0);
  });

  it('counts a counter missing before from zero, and a missing one as 0', () => {
    assert.equal(delta(before, after, 'Icmp6InErrors'), 3);
    assert.equal(delta(before, after, 'Udp6InDatagrams'), 0);
    assert.equal(delta({}, {}, 'Icmp6InEchos'), 0);
  });
});
