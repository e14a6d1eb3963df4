import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InputError } from '../../src/errors.js';
import {
  checkAgainstLab,
  loadExperimentFile,
  parseExperiment,
  swapTimes,
} from '../../src/experiment/options.js';
import { resolveLab } from '../../src/lab/resolve.js';
import { NAMED_FLOW_LAB, ONE_SERVER_LAB, referenceLab } from '../support/labs.js';
import { removeDir, tempDir } from '../support/tmp.js';

const rejects = (input: unknown, ...patterns: RegExp[]) => {
  assert.throws(
    () => parseExperiment(input),
    (e: unknown) => {
      assert.ok(e instanceof InputError);
      assert.equal(e.exitCode, 2);
      assert.equal(e.message.includes('\n'), false, 'one line');
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
};

describe('experiment options', () => {
  it('defaults: ping at 0.00001 s, 100 swaps every 20 ms, captures in the servers', () => {
    const o = parseExperiment({});
    assert.deepEqual(o.traffic, ['ping']);
    assert.equal(o.ping.interval, 0.00001);
    assert.equal(o.swaps.count, 100);
    assert.equal(o.swaps.periodMs, 20);
    assert.equal(o.capture, 'servers');
    assert.equal(swapTimes(o).length, 100);
    assert.equal(swapTimes(o)[99], 99 * 20);
  });

  it('explicit swap times replace count and period, sorted', () => {
    const o = parseExperiment({ swaps: { count: 5, atMs: [300, 100, 200] } });
    assert.deepEqual(swapTimes(o), [100, 200, 300]);
  });

  it('an unknown traffic kind is refused, naming the kinds', () => {
    rejects({ traffic: ['ping', 'quic'] }, /traffic\.1/, /ping/, /ncat-udp/);
  });

  it('an interval ping does not accept (negative, not a number) is refused', () => {
    rejects({ ping: { interval: -0.1 } }, /ping\.interval/);
    rejects({ ping: { interval: Number.NaN } }, /ping\.interval/);
  });

  it('every problem is listed at once, and unknown keys are refused', () => {
    rejects(
      { traffic: [], swaps: { count: -1 }, capture: 'some', colour: 'red' },
      /traffic/,
      /swaps\.count/,
      /capture/,
      /colour/,
    );
  });

  it('an experiment file is read as YAML, and its problems name the file', async () => {
    const dir = await tempDir('experiment');
    try {
      const good = join(dir, 'good.yaml');
      await writeFile(good, 'traffic: [udp, tcp]\nudp: { rate: 5000 }\nswaps: { count: 7 }\n');
      const o = await loadExperimentFile(good);
      assert.deepEqual(o.traffic, ['udp', 'tcp']);
      assert.equal(o.udp.rate, 5000);
      assert.equal(o.swaps.count, 7);
      const bad = join(dir, 'bad.yaml');
      await writeFile(bad, 'traffic: [smoke]\n');
      await assert.rejects(loadExperimentFile(bad), /bad\.yaml: traffic\.0/);
      await assert.rejects(loadExperimentFile(join(dir, 'none.yaml')), /cannot read/);
    } finally {
      await removeDir(dir);
    }
  });
});

describe('experiment options against a lab', () => {
  it('picks the first flow by default, or one by address or name', () => {
    assert.equal(checkAgainstLab(parseExperiment({}), referenceLab()).flow.address, 'fe00::1');
    const named = resolveLab(NAMED_FLOW_LAB);
    const flow = named.flows[0];
    assert.ok(flow?.name);
    const o = parseExperiment({ swaps: { flow: flow.name } });
    assert.equal(checkAgainstLab(o, named).flow.address, flow.address);
    const long = parseExperiment({ swaps: { flow: 'fe00:0::1' } });
    assert.equal(checkAgainstLab(long, referenceLab()).flow.address, 'fe00::1');
  });

  it('swaps on a flow with one possible server are refused before anything is built', () => {
    const lab = resolveLab(ONE_SERVER_LAB);
    assert.throws(
      () => checkAgainstLab(parseExperiment({}), lab),
      /one possible server \(C\): there is nothing to swap to/,
    );
    // Without swaps, such a lab is fine.
    assert.ok(checkAgainstLab(parseExperiment({ swaps: { count: 0 } }), lab));
  });

  it('an unknown flow, and two UDP kinds on one port, are refused together', () => {
    const input = {
      traffic: ['udp', 'ncat-udp'],
      udp: { port: 6000 },
      ncatUdp: { port: 6000 },
      swaps: { flow: 'fe00::99' },
    };
    const both = (e: unknown) =>
      e instanceof InputError &&
      e.problems.length === 2 &&
      /^ncatUdp\.port: traffic udp and ncat-udp both use UDP port 6000$/.test(
        e.problems[0] ?? '',
      ) &&
      /^swaps\.flow: no flow 'fe00::99' in lab default$/.test(e.problems[1] ?? '');
    assert.throws(() => parseExperiment(input, 'experiment options', referenceLab()), both);
    // Options made without parseExperiment are checked whole too.
    const o = parseExperiment({ traffic: ['udp', 'ncat-udp'], udp: { port: 6000 } });
    const clash = {
      ...o,
      ncatUdp: { ...o.ncatUdp, port: 6000 },
      swaps: { ...o.swaps, flow: 'fe00::99' },
    };
    assert.throws(() => checkAgainstLab(clash, referenceLab()), both);
  });

  it('an experiment file with ten independent mistakes: one InputError naming all ten', async () => {
    const dir = await tempDir('experiment');
    try {
      const path = join(dir, 'ten.yaml');
      await writeFile(
        path,
        [
          'traffic: [ping, udp, ncat-udp, udp, quic]',
          'ping: { interval: -1 }',
          'udp: { rate: 0, port: 6000 }',
          'ncatUdp: { port: 6000 }',
          'tcp: { chunk: 8 }',
          'swaps: { count: 10, flow: fe00::99 }',
          'capture: some',
          'colour: red',
          'sampleMs: 0',
          '',
        ].join('\n'),
      );
      const ten = [
        /^traffic\.4: Invalid option/,
        /^traffic: 'udp' is listed twice$/,
        /^ping\.interval: Too small/,
        /^udp\.rate: Too small/,
        /^ncatUdp\.port: traffic udp and ncat-udp both use UDP port 6000$/,
        /^tcp\.chunk: Too small/,
        /^swaps\.flow: no flow 'fe00::99' in lab default$/,
        /^capture: Invalid option/,
        /^\(top\): Unrecognized key: "colour"$/,
        /^sampleMs: Too small/,
      ];
      await assert.rejects(loadExperimentFile(path, referenceLab()), (e: unknown) => {
        assert.ok(e instanceof InputError, String(e));
        const all = JSON.stringify(e.problems);
        for (const p of ten) {
          assert.equal(e.problems.filter((x) => p.test(x)).length, 1, `${p} once in ${all}`);
        }
        assert.equal(e.problems.length, ten.length, all);
        assert.equal(e.message, `experiment file ${path}: ${e.problems.join('; ')}`);
        assert.equal(e.exitCode, 2);
        return true;
      });
    } finally {
      await removeDir(dir);
    }
  });

  it('without a lab, the checks that need none still run beside the schema', () => {
    rejects(
      { traffic: ['udp', 'ncat-udp', 'quic'], udp: { port: 6000 }, ncatUdp: { port: 6000 } },
      /traffic\.2: Invalid option/,
      /ncatUdp\.port: traffic udp and ncat-udp both use UDP port 6000/,
    );
  });
});
