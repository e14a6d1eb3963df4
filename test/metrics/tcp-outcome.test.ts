import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientOutcome, type TcpEnd, tcpOutcome } from '../../src/metrics/tcp-outcome.js';

const reset: TcpEnd = { kind: 'reset', atMs: 520.4, afterSwap: { index: 1, ms: 0.4 }, message: '' };
const open: TcpEnd = { kind: 'open', atMs: null, afterSwap: null, message: '' };

describe('tcpOutcome', () => {
  it('reset promises a reset after a swap; drain and migrate an open connection', () => {
    const at = { swaps: 3, firstSwapMs: 520 };
    assert.equal(tcpOutcome({ ...at, policy: 'reset', ended: reset }).asPromised, true);
    assert.equal(tcpOutcome({ ...at, policy: 'drain', ended: reset }).asPromised, false);
    assert.equal(tcpOutcome({ ...at, policy: 'migrate', ended: reset }).asPromised, false);
    assert.equal(tcpOutcome({ ...at, policy: 'drain', ended: open }).asPromised, true);
    assert.equal(tcpOutcome({ ...at, policy: 'migrate', ended: open }).asPromised, true);
    assert.equal(tcpOutcome({ ...at, policy: 'reset', ended: open }).asPromised, false);
  });

  it('drain: a reset once the drain time has passed since the first swap is as promised', () => {
    const late = { ...reset, atMs: 20_600 };
    const o = tcpOutcome({
      policy: 'drain',
      drainMs: 10_000,
      ended: late,
      swaps: 3,
      firstSwapMs: 520,
    });
    assert.equal(o.asPromised, true);
    assert.match(o.line, /once its drain \(10 s\) had ended/);
  });

  it('says what happened and what the policy promises, on one line', () => {
    const o = tcpOutcome({ policy: 'migrate', ended: reset, swaps: 3, firstSwapMs: 520 });
    assert.equal(
      o.line,
      "tcp: reset 0.4 ms after swap 1, but the flow's tcp policy migrate moves it with the flow",
    );
    const before = tcpOutcome({
      policy: 'reset',
      ended: { kind: 'closed', atMs: 5, afterSwap: null, message: 'closed by the peer' },
      swaps: 3,
      firstSwapMs: 520,
    });
    assert.equal(before.asPromised, false);
    assert.match(
      before.line,
      /^tcp: closed \(closed by the peer\) before any swap, at 5\.0 ms, but/,
    );
  });
});

describe('clientOutcome', () => {
  it('a client reset by the swap is what reset promises, not what migrate promises', () => {
    const c = { from: 'C', to: 'D', clientTerminated: true, clientExitCode: 1, clientMessage: 'x' };
    assert.equal(clientOutcome('reset', c).asPromised, true);
    assert.equal(clientOutcome('migrate', c).asPromised, false);
    assert.equal(clientOutcome('drain', { ...c, clientTerminated: false }).asPromised, true);
  });
});
