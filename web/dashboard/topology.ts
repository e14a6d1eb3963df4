// The lab drawn as SVG: clients on the left, translators in the middle, servers on the right, each
// node's link to its translator, and every flow as an arrow from its initiator through the
// translator to its current responder (redrawn on each `flows` event).
import type { LiveFlow, LiveLink, LiveNode } from '../../src/daemon-api/live.js';
import { colour, redraw, svg } from './dom.js';

const WIDTH = 720;
const BOX_W = 132;
const ROW = 78;
const MARGIN = 30;
/** Above this many flows their labels would cover each other: the arrows keep a hover title. */
const LABELLED_FLOWS = 12;

interface Place {
  readonly x: number;
  readonly y: number;
  readonly h: number;
}

export class Topology {
  private readonly places = new Map<string, Place>();
  private links: readonly LiveLink[] = [];
  private readonly flowLayer = svg('g', { class: 'flows' });
  private readonly root = svg('svg', { class: 'topology', role: 'img' });

  constructor(container: HTMLElement) {
    container.replaceChildren(this.root);
  }

  /** Draws the whole lab (on a snapshot). */
  setLab(nodes: readonly LiveNode[], links: readonly LiveLink[], flows: readonly LiveFlow[]): void {
    this.places.clear();
    this.links = links;
    const hosts = nodes.some((n) => n.host !== undefined);
    const boxH = hosts ? 58 : 44;
    const columns: Record<LiveNode['role'], LiveNode[]> = {
      client: [],
      translator: [],
      server: [],
    };
    for (const n of nodes) columns[n.role].push(n);
    const rows = Math.max(1, ...Object.values(columns).map((c) => c.length));
    const height = rows * ROW + 2 * MARGIN;
    const x = {
      client: MARGIN + BOX_W / 2,
      translator: WIDTH / 2,
      server: WIDTH - MARGIN - BOX_W / 2,
    };
    for (const [role, column] of Object.entries(columns) as [LiveNode['role'], LiveNode[]][]) {
      // Each column centred: a lone translator sits level with the middle of the clients and servers.
      const top = MARGIN + ((rows - column.length) * ROW) / 2 + ROW / 2;
      for (const [i, n] of column.entries())
        this.places.set(n.name, { x: x[role], y: top + i * ROW, h: boxH });
    }
    this.root.setAttribute('viewBox', `0 0 ${WIDTH} ${height}`);
    this.root.setAttribute('aria-label', `lab topology: ${nodes.length} nodes`);
    const defs = svg(
      'defs',
      {},
      svg(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: '9',
          refY: '5',
          markerWidth: '7',
          markerHeight: '7',
          orient: 'auto-start-reverse',
        },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead' }),
      ),
    );
    const linkLayer = svg('g', { class: 'links' });
    for (const l of links) {
      const a = this.places.get(l.node);
      const b = this.places.get(l.translator);
      if (a === undefined || b === undefined) continue;
      linkLayer.append(
        svg('line', {
          class: 'link',
          x1: String(a.x),
          y1: String(a.y),
          x2: String(b.x),
          y2: String(b.y),
        }),
      );
    }
    const nodeLayer = svg('g', { class: 'nodes' });
    nodes.forEach((n, i) => {
      const p = this.places.get(n.name);
      if (p !== undefined) nodeLayer.append(nodeBox(n, p, colour(i)));
    });
    this.root.replaceChildren(defs, linkLayer, this.flowLayer, nodeLayer);
    this.pending = flows;
    this.drawFlows(flows);
  }

  /** Redraws the flows' arrows (on `flows`): the newest list, at most once per REDRAW_MS. */
  setFlows(flows: readonly LiveFlow[]): void {
    this.pending = flows;
    this.schedule();
  }

  private pending: readonly LiveFlow[] = [];
  private readonly draw = () => this.drawFlows(this.pending);
  private schedule(): void {
    redraw(this.draw);
  }

  private drawFlows(flows: readonly LiveFlow[]): void {
    const labelled = flows.length <= LABELLED_FLOWS;
    this.flowLayer.replaceChildren(
      ...flows.map((f, i) => this.flow(f, (i - (flows.length - 1) / 2) * 7, labelled)),
    );
  }

  private translatorOf(node: string): string | undefined {
    return this.links.find((l) => l.node === node)?.translator;
  }

  private flow(f: LiveFlow, offset: number, labelled: boolean): SVGGElement {
    const via = this.translatorOf(f.initiator) ?? this.translatorOf(f.responder);
    const title = `${f.name ? `${f.name} ` : ''}${f.address}: ${f.initiator} → ${via ?? '?'} → ${f.responder}`;
    const g = svg(
      'g',
      { class: 'flow', 'data-testid': `flow-${f.address}`, 'data-responder': f.responder },
      svg('title', {}, title),
    );
    const a = this.places.get(f.initiator);
    const t = via === undefined ? undefined : this.places.get(via);
    const b = this.places.get(f.responder);
    if (a === undefined || t === undefined || b === undefined) return g;
    // Leaves the initiator's right edge, bends through the translator (spread by `offset` so flows
    // stay apart there) and ends at the responder's edge facing the translator.
    const x1 = a.x + BOX_W / 2;
    const y1 = a.y + offset / 2;
    const ty = t.y + offset;
    const side = b.x >= t.x ? -1 : 1;
    const x2 = b.x + (side * BOX_W) / 2 + side * 2;
    const y2 = b.y + offset / 2;
    const d =
      `M ${x1} ${y1} C ${(x1 + t.x) / 2} ${y1}, ${t.x - 40} ${ty}, ${t.x} ${ty} ` +
      `S ${(t.x + x2) / 2} ${y2}, ${x2} ${y2}`;
    g.append(svg('path', { d, class: 'flow-path', 'marker-end': 'url(#arrow)' }));
    if (labelled)
      g.append(
        svg(
          'text',
          // On the leg to the responder, clear of the translator's box.
          {
            x: String((t.x + x2) / 2),
            y: String((ty + y2) / 2 - 8),
            class: 'flow-label',
            'text-anchor': 'middle',
          },
          f.name ?? f.address,
        ),
      );
    return g;
  }
}

function nodeBox(n: LiveNode, p: Place, stroke: string): SVGGElement {
  const top = p.y - p.h / 2;
  const g = svg(
    'g',
    { class: `node ${n.role}`, 'data-testid': `node-${n.name}` },
    svg('title', {}, `${n.name} (${n.role})${n.address ? ` ${n.address}` : ''}`),
    svg('rect', {
      x: String(p.x - BOX_W / 2),
      y: String(top),
      width: String(BOX_W),
      height: String(p.h),
      rx: '6',
      stroke,
    }),
    svg(
      'text',
      { x: String(p.x), y: String(top + 18), class: 'name', 'text-anchor': 'middle' },
      n.name,
    ),
  );
  const detail = n.address ?? n.role;
  g.append(
    svg(
      'text',
      { x: String(p.x), y: String(top + 34), class: 'detail', 'text-anchor': 'middle' },
      detail,
    ),
  );
  if (n.host !== undefined)
    g.append(
      svg(
        'text',
        { x: String(p.x), y: String(top + 50), class: 'host', 'text-anchor': 'middle' },
        `host ${n.host}`,
      ),
    );
  return g;
}
