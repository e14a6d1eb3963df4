// The dashboard page: takes the token from the address's fragment (then removes it from the
// address bar and keeps it in memory only), follows the daemon's live feed and hands each event to
// the panel it changes. Without a token, or with one the daemon refuses, it says so and enables
// no control.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import type { LiveEvent, LiveSnapshot } from '../../src/daemon-api/live.js';
import { type Answer, type PageRequest, post } from './api.js';
import { Controls } from './controls.js';
import { byId } from './dom.js';
import { type ConnectionState, openFeed } from './feed.js';
import { MigrationLog } from './log.js';
import { Rates } from './rates.js';
import { StatusPanel } from './status.js';
import { Topology } from './topology.js';

/** The token from `#token=...`, removed from the address so it is not bookmarked or shared. */
function takeToken(): string | undefined {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token') ?? undefined;
  if (location.hash !== '') history.replaceState(null, '', location.pathname + location.search);
  return token === '' ? undefined : token;
}

const token = takeToken();
const topology = new Topology(byId('topology'));
const rates = new Rates(byId('rates-chart'), byId('rates-now'));
const log = new MigrationLog(byId<HTMLTableSectionElement>('log'));
const status = new StatusPanel(byId('status'));
const connection = byId('connection');
const auth = byId('auth');
let feed: { close(): void } | undefined;

function setState(s: ConnectionState, detail?: string): void {
  connection.textContent = s;
  connection.className = `connection ${s}`;
  connection.title = detail ?? '';
  auth.hidden = s !== 'unauthorized';
  if (s === 'unauthorized') {
    auth.textContent =
      token === undefined
        ? 'Unauthorized: this address carries no token. Open the address `flowmig dashboard` prints (…/#token=…).'
        : `Unauthorized: ${detail ?? 'the daemon refused the token'}. The daemon was restarted? Run \`flowmig dashboard\` again for a new address.`;
    feed?.close();
  }
  // Controls wait for a snapshot after each (re)connection: there is nothing to act on before.
  if (s !== 'connected') controls.setEnabled(false);
}

async function send(r: PageRequest): Promise<Answer> {
  if (token === undefined) return { ok: false, error: 'no token', code: 'unauthorized' };
  const answer = await post(token, r);
  if (!answer.ok && answer.code === 'unauthorized') setState('unauthorized', answer.error);
  return answer;
}

const controls = new Controls(send);

function snapshot(s: LiveSnapshot): void {
  document.title = `flowmig ${s.lab}`;
  byId('lab').textContent = `${s.lab} · ${s.engine} · ${s.version}`;
  topology.setLab(s.nodes, s.links, s.flows);
  rates.reset(
    s.nodes.map((n) => n.name),
    s.rates,
    s.log.map((r) => Date.parse(r.at)),
  );
  log.reset(s.log);
  status.render(s.status);
  controls.setLab(s.nodes, s.flows, s.loads);
  controls.setEnabled(true);
}

function apply(e: LiveEvent): void {
  switch (e.type) {
    case 'snapshot':
      snapshot(e);
      break;
    case 'flows':
      topology.setFlows(e.flows);
      controls.setFlows(e.flows);
      break;
    case 'migration':
      log.add(e.row);
      rates.mark(Date.parse(e.row.at));
      break;
    case 'late':
      log.setLate(e.seq, e.late);
      break;
    case 'rates':
      rates.add(e.sample);
      break;
    case 'status':
      status.render(e.status);
      break;
    case 'loads':
      controls.setLoads(e.loads);
      break;
  }
}

if (token === undefined) setState('unauthorized');
else feed = openFeed(token, { event: apply, state: setState });
