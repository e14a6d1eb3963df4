// The controls: swap a flow, migrate one to any node (all are offered, so a wrong choice gets the
// daemon's own refusal), evacuate a server, start and stop traffic loads. Each request's answer
// goes to the result line, ok or error, in the daemon's words.
import type { LiveFlow, LiveNode, LoadInfo } from '../../src/daemon-api/live.js';
import { type Answer, describe, type PageRequest } from './api.js';
import { byId, el, redraw, setOptions } from './dom.js';

/** Ended loads still listed (with why they ended), newest first, after the running ones. */
const ENDED_SHOWN = 5;

export class Controls {
  private enabled = false;
  private readonly busy = new Set<HTMLButtonElement>();
  private readonly result = byId<HTMLParagraphElement>('result');
  private readonly loads = byId<HTMLUListElement>('loads');
  private readonly selects = {
    swapFlow: byId<HTMLSelectElement>('swap-flow'),
    migrateFlow: byId<HTMLSelectElement>('migrate-flow'),
    migrateNode: byId<HTMLSelectElement>('migrate-node'),
    evacuateFrom: byId<HTMLSelectElement>('evacuate-from'),
    evacuateTo: byId<HTMLSelectElement>('evacuate-to'),
    loadKind: byId<HTMLSelectElement>('load-kind'),
    loadFrom: byId<HTMLSelectElement>('load-from'),
    loadFlow: byId<HTMLSelectElement>('load-flow'),
  };

  constructor(private readonly send: (r: PageRequest) => Promise<Answer>) {
    const s = this.selects;
    this.on('swap', () => ({ verb: 'swap', flow: s.swapFlow.value }));
    this.on('migrate', () => ({
      verb: 'migrate',
      flow: s.migrateFlow.value,
      node: s.migrateNode.value,
      // The control names the node that is to serve the flow: a client is refused, not taken
      // as a move of the flow's initiator.
      end: 'responder',
    }));
    this.on('evacuate', () => ({
      verb: 'evacuate',
      from: s.evacuateFrom.value,
      to: s.evacuateTo.value,
    }));
    this.on('load-start', () => ({
      verb: 'load',
      kind: s.loadKind.value === 'udp' ? 'udp' : 'ping',
      from: s.loadFrom.value,
      flow: s.loadFlow.value,
    }));
    this.refresh();
  }

  setLab(nodes: readonly LiveNode[], flows: readonly LiveFlow[], loads: readonly LoadInfo[]): void {
    const all = nodes.map((n) => ({ value: n.name, label: `${n.name} (${n.role})` }));
    const of = (role: LiveNode['role']) =>
      nodes.filter((n) => n.role === role).map((n) => ({ value: n.name, label: n.name }));
    const first = this.selects.migrateNode.options.length === 0;
    setOptions(this.selects.migrateNode, all);
    // Every node is offered, but a server is the likely choice: the first one, until one is chosen.
    const server = nodes.find((n) => n.role === 'server');
    if (first && server !== undefined) this.selects.migrateNode.value = server.name;
    const servers = of('server');
    setOptions(this.selects.evacuateFrom, servers);
    setOptions(this.selects.evacuateTo, servers);
    // Evacuating a server to itself is refused: offer another one first.
    if (servers.length > 1 && this.selects.evacuateTo.value === this.selects.evacuateFrom.value)
      this.selects.evacuateTo.value = servers[1]?.value ?? '';
    setOptions(this.selects.loadFrom, of('client'));
    this.flows = flows;
    this.fillFlows(flows);
    this.setLoads(loads);
  }

  /** The flows' selects, at the page's next redraw tick (flows change with every migration). */
  setFlows(flows: readonly LiveFlow[]): void {
    this.flows = flows;
    redraw(this.drawFlows);
  }

  private flows: readonly LiveFlow[] = [];
  private readonly drawFlows = () => this.fillFlows(this.flows);

  private fillFlows(flows: readonly LiveFlow[]): void {
    const options = flows.map((f) => ({
      value: f.address,
      label: `${f.name ? `${f.name} ` : ''}${f.address} → ${f.responder}`,
    }));
    for (const s of [this.selects.swapFlow, this.selects.migrateFlow, this.selects.loadFlow])
      setOptions(s, options);
  }

  setLoads(loads: readonly LoadInfo[]): void {
    const running = loads.filter((l) => l.running);
    const ended = loads
      .filter((l) => !l.running)
      .slice(-ENDED_SHOWN)
      .reverse();
    this.loads.replaceChildren(
      ...running.map((l) => {
        const stop = el(
          'button',
          { type: 'button', class: 'stop', 'data-testid': `load-stop-${l.id}` },
          'stop',
        );
        this.wire(stop, () => ({ verb: 'unload', load: l.id }));
        return el('li', { class: 'running', 'data-load': String(l.id) }, `${label(l)} `, stop);
      }),
      ...ended.map((l) =>
        el(
          'li',
          { class: 'ended', 'data-load': String(l.id) },
          `${label(l)}: ${l.ended ?? 'stopped'}`,
        ),
      ),
    );
    this.refresh();
  }

  /** Controls work only with a token the daemon accepts and a lab to act on. */
  setEnabled(on: boolean): void {
    this.enabled = on;
    this.refresh();
  }

  private on(id: string, request: () => PageRequest): void {
    this.wire(byId<HTMLButtonElement>(id), request);
  }

  private wire(button: HTMLButtonElement, request: () => PageRequest): void {
    button.addEventListener('click', () => {
      if (!this.enabled || this.busy.has(button)) return;
      const r = request();
      this.busy.add(button);
      this.refresh();
      this.show('pending', `${r.verb}: sent…`);
      void this.send(r).then((answer) => {
        this.busy.delete(button);
        this.refresh();
        if (answer.ok) this.show('ok', describe(r, answer.result));
        else
          this.show('error', `${r.verb}: ${answer.error}${answer.code ? ` (${answer.code})` : ''}`);
      });
    });
  }

  private show(kind: 'ok' | 'error' | 'pending', text: string): void {
    this.result.className = `result ${kind}`;
    this.result.textContent = text;
  }

  private refresh(): void {
    const root = this.result.closest('section');
    for (const b of root?.querySelectorAll('button') ?? [])
      b.disabled = !this.enabled || this.busy.has(b);
    for (const s of Object.values(this.selects)) s.disabled = !this.enabled;
  }
}

function label(l: LoadInfo): string {
  return `${l.kind} #${l.id} ${l.from} → ${l.flow}`;
}
