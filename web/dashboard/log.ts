// The migration log: a table, newest first, of at most LOG_KEPT rows (older ones are dropped as
// new ones come); a `late` event updates the late count of the row it names.
import { LOG_KEPT, type LogRow } from '../../src/daemon-api/live.js';
import { clock, el, ms, redraw } from './dom.js';

export class MigrationLog {
  /** The rows shown, by seq, to update their late count. */
  private readonly rows = new Map<number, { tr: HTMLTableRowElement; late: HTMLElement }>();

  constructor(private readonly body: HTMLTableSectionElement) {}

  /** Starts over with a snapshot's rows (oldest first). */
  reset(rows: readonly LogRow[]): void {
    this.rows.clear();
    this.pending = [];
    this.body.replaceChildren();
    for (const r of rows.slice(-LOG_KEPT)) this.show(r);
  }

  /** Rows to add at the next redraw (at most once per REDRAW_MS), oldest first. */
  private pending: LogRow[] = [];
  private readonly draw = () => this.flush();
  private schedule(): void {
    redraw(this.draw);
  }

  add(row: LogRow): void {
    this.pending.push(row);
    if (this.pending.length > LOG_KEPT) this.pending.splice(0, this.pending.length - LOG_KEPT);
    this.schedule();
  }

  private flush(): void {
    const rows = this.pending;
    this.pending = [];
    for (const r of rows) this.show(r);
  }

  private show(row: LogRow): void {
    const shown = this.rows.get(row.seq);
    const made = this.row(row);
    // Seen again (a reconnect's snapshot and an event): the newer copy replaces it in place.
    if (shown !== undefined) shown.tr.replaceWith(made.tr);
    else this.body.prepend(made.tr);
    this.rows.set(row.seq, made);
    while (this.body.rows.length > LOG_KEPT) {
      const last = this.body.lastElementChild as HTMLTableRowElement | null;
      if (last === null) break;
      last.remove();
      this.rows.delete(Number(last.dataset.seq));
    }
  }

  setLate(seq: number, late: number): void {
    const at = this.pending.findIndex((p) => p.seq === seq);
    if (at >= 0) {
      this.pending[at] = { ...(this.pending[at] as LogRow), late };
      return;
    }
    const r = this.rows.get(seq);
    if (r === undefined) return;
    r.late.textContent = String(late);
    r.late.classList.toggle('nonzero', late > 0);
  }

  private row(r: LogRow): { tr: HTMLTableRowElement; late: HTMLElement } {
    const late = el('td', { class: r.late > 0 ? 'num late nonzero' : 'num late' }, String(r.late));
    const move = `${r.from} → ${r.to}${r.role === 'initiator' ? ' (initiator)' : ''}`;
    const path = [
      r.path ?? '–',
      r.batched !== undefined ? `×${r.batched}` : undefined,
      r.tcpMoved !== undefined ? `${r.tcpMoved} TCP moved` : undefined,
    ]
      .filter((p) => p !== undefined)
      .join(' · ');
    const tr = el(
      'tr',
      { 'data-testid': 'log-row', 'data-seq': String(r.seq), class: r.source },
      el('td', { class: 'time', title: r.at }, clock(r.at)),
      el('td', { class: 'flow' }, r.flow),
      el('td', {}, move),
      el('td', {}, path),
      el('td', { class: 'num' }, `${ms(r.ruleMs)} / ${ms(r.conntrackMs)} / ${ms(r.totalMs)}`),
      el(
        'td',
        { class: 'num' },
        r.conntrackDeleted === undefined ? '–' : String(r.conntrackDeleted),
      ),
      late,
      el('td', {}, r.source),
    );
    return { tr, late };
  }
}
