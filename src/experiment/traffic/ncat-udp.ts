// Traffic `ncat-udp`: the reference's `ncat -u` from the client, fed numbered lines at a steady
// rate, against an `ncat -u -l` in each server namespace. Files: ncat-sent.txt (lines written),
// ncat-<node>.txt (what each listener printed).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { concreteAddress } from '../../lab/model.js';
import { type Background, sleep } from '../process.js';
import type { KindResults, RunData, TrafficModule, TrafficRun, TrafficSetup } from './kind.js';

const LINE = 'ncat line ';

function run(s: TrafficSetup): TrafficRun {
  const o = s.options.ncatUdp;
  const listeners = new Map<string, Background>();
  let sender: Background | undefined;
  let lines = 0;
  let timer: NodeJS.Timeout | undefined;
  return {
    async serve() {
      for (const node of s.servers) {
        const address = concreteAddress(s.bed.lab, node.name) ?? '';
        listeners.set(
          node.name,
          s.launch.start(
            `ncat listener ${node.name}`,
            ['ncat', '-u', '-l', address, String(o.port)],
            {
              netns: node.netns,
            },
          ),
        );
      }
      if (listeners.size) await sleep(300); // ncat prints nothing when it listens
    },
    async send() {
      const p = s.launch.start('ncat-udp', ['ncat', '-u', s.flow.address, String(o.port)], {
        netns: s.client.netns,
        stdin: true,
      });
      sender = p;
      const t0 = performance.now();
      timer = setInterval(() => {
        const due = Math.floor(((performance.now() - t0) / 1000) * o.rate);
        while (lines < due) p.write(`${LINE}${lines++}\n`);
      }, 5);
    },
    ended: () =>
      sender && !sender.running
        ? `ncat-udp ended during the run: ${sender.stderr.trim().split('\n')[0] ?? ''}`
        : undefined,
    halt() {
      if (timer) clearInterval(timer);
    },
    async stop() {
      if (!sender) return;
      await sleep(100);
      sender.endInput();
      await sender.stop('SIGTERM', 2_000);
      await sleep(100);
      s.files['ncat sent'] = 'ncat-sent.txt';
      await writeFile(join(s.dir, s.files['ncat sent']), `${lines}\n`);
      for (const [node, l] of listeners) {
        await l.stop('SIGTERM', 2_000);
        s.files[`ncat ${node}`] = `ncat-${node}.txt`;
        await writeFile(join(s.dir, s.files[`ncat ${node}`] ?? ''), l.stdout);
      }
    },
  };
}

async function analyze(d: RunData): Promise<KindResults | undefined> {
  const sent = d.run.files['ncat sent'];
  if (!sent) return undefined;
  const sentLines = Number((await readFile(join(d.dir, sent), 'utf8')).trim());
  const perServer: Record<string, number> = {};
  for (const node of Object.keys(d.run.serverAddresses)) {
    const f = d.run.files[`ncat ${node}`];
    const text = f ? await readFile(join(d.dir, f), 'utf8') : '';
    perServer[node] = text.split('\n').filter((l) => l.startsWith(LINE)).length;
  }
  return { traffic: { ncatUdp: { sentLines, perServer } }, failures: [] };
}

export const ncatUdpTraffic: TrafficModule = {
  kind: 'ncat-udp',
  optionsKey: 'ncatUdp',
  programs: ['ncat'],
  run,
  analyze,
};
