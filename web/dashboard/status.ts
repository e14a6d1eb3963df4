// The status panel, redrawn on each `status` event (about once a second): drift, control path,
// the daemon, late packets, drains, TCP connections per server runtime, and the hosts — a compact
// table that scrolls, so a lab of many hosts fits.
import type { LiveStatus } from '../../src/daemon-api/live.js';
import { clock, el } from './dom.js';

function table(
  testid: string,
  head: readonly string[],
  rows: readonly (readonly string[])[],
  rowClass: (i: number) => string | undefined = () => undefined,
): HTMLElement {
  return el(
    'table',
    { class: 'compact', 'data-testid': testid },
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
    el(
      'tbody',
      {},
      ...rows.map((r, i) => el('tr', { class: rowClass(i) }, ...r.map((c) => el('td', {}, c)))),
    ),
  );
}

function item(label: string, value: string | Node, testid?: string): HTMLElement {
  return el(
    'div',
    { class: 'item' },
    el('dt', {}, label),
    el('dd', { 'data-testid': testid }, value),
  );
}

export class StatusPanel {
  constructor(private readonly root: HTMLElement) {}

  render(s: LiveStatus | undefined): void {
    if (s === undefined) {
      this.root.replaceChildren(el('p', { class: 'muted' }, 'no status yet'));
      return;
    }
    const drift =
      s.drift.length === 0
        ? el('span', { class: 'ok' }, 'none')
        : el('ul', { class: 'drift' }, ...s.drift.map((d) => el('li', {}, d)));
    const facts = el(
      'dl',
      { class: 'facts' },
      item('drift', drift, 'drift'),
      item('control path', s.controlPath, 'control-path'),
      item(
        'daemon',
        `pid ${s.daemon.pid} · ${s.daemon.changes} changes · ${s.daemon.queued} queued · since ${clock(s.daemon.startedAt)}`,
        'daemon',
      ),
      item('read at', clock(s.at)),
    );
    const late = s.late
      ? table(
          'late',
          ['late rules', 'translated', 'former'],
          [
            [
              s.late.installed ? 'installed' : 'not installed',
              String(s.late.translated),
              String(s.late.former),
            ],
          ],
        )
      : el(
          'p',
          { class: 'muted', 'data-testid': 'late' },
          'late packets: not counted on a cluster lab',
        );
    const drains =
      s.drains.length === 0
        ? el('p', { class: 'muted' }, 'no drains')
        : table(
            'drains',
            ['draining flow', 'old responder', 'ends in'],
            s.drains.map((d) => [d.flow, d.responder, `${(d.endsInMs / 1000).toFixed(1)} s`]),
          );
    const servers =
      s.servers.length === 0
        ? el('p', { class: 'muted' }, 'no server runtimes')
        : table(
            'servers',
            ['server', 'runtime', 'TCP connections'],
            s.servers.map((v) => [
              v.node,
              v.running ? 'running' : 'stopped',
              v.connections === undefined ? '–' : String(v.connections),
            ]),
          );
    const hosts = el(
      'div',
      { class: 'hosts' },
      table(
        'hosts',
        ['host', 'lease', 'lag'],
        s.hosts.map((h) => [h.name, h.lease, h.lag === undefined ? '?' : String(h.lag)]),
        (i) => {
          const h = s.hosts[i];
          return h === undefined
            ? undefined
            : h.lease === 'lost' || (h.lag ?? 0) > 0
              ? 'warn'
              : undefined;
        },
      ),
    );
    this.root.replaceChildren(facts, late, drains, servers, hosts);
  }
}
