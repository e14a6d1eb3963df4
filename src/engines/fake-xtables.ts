// ip6tables in memory: what `ip6tables-restore --noflush` input does to the tables (all or nothing),
// what `ip6tables-save -t TABLE` prints, and the rule options flowmig writes, for the tracer.

/** A rule as flowmig writes them: addresses, a mark, conntrack's DNAT state, a comment, a target. */
export interface XtRule {
  readonly chain: string;
  readonly source?: string;
  readonly destination?: string;
  readonly mark?: number;
  /** `-m conntrack --ctstate DNAT`: the connection's destination was translated. */
  readonly ctDnat?: boolean;
  /** `--ctorigdst`: the connection's original destination. */
  readonly ctOrigDst?: string;
  readonly comment?: string;
  /** DNAT, SNAT, NFQUEUE, ACCEPT, RETURN, or a user chain to jump to. */
  readonly target: string;
  readonly toDestination?: string;
  readonly toSource?: string;
  readonly queueNum?: number;
  /** The rule as ip6tables-save prints it. */
  readonly text: string;
}

/** Input ip6tables-restore refuses (its message names the line). */
export class XtError extends Error {}

const BUILTIN: Readonly<Record<string, readonly string[]>> = {
  raw: ['PREROUTING', 'OUTPUT'],
  mangle: ['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING'],
  nat: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'],
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
};

/** An address as ip6tables-save prints a match on it (a single address with /128). */
const host = (a: string) => (a.includes('/') ? a : `${a}/128`);
const bare = (a: string) => a.replace(/^\[|\]$/g, '').replace(/\/128$/, '');

/** Reads one `-A CHAIN ...` line (the options flowmig writes; anything else is refused). */
function parseRule(line: string): XtRule {
  const words = line.trim().split(/\s+/);
  const chain = words[1] ?? '';
  const rule: { -readonly [K in keyof XtRule]?: XtRule[K] } = { chain };
  const save = [`-A ${chain}`];
  for (let i = 2; i < words.length; i++) {
    const w = words[i];
    const next = () => {
      const v = words[++i];
      if (v === undefined) throw new XtError(`option ${w} needs a value`);
      return v;
    };
    if (w === '-s') {
      rule.source = bare(next());
      save.push(`-s ${host(rule.source)}`);
    } else if (w === '-d') {
      rule.destination = bare(next());
      save.push(`-d ${host(rule.destination)}`);
    } else if (w === '-m') {
      const m = next();
      if (m === 'mark') {
        if (next() !== '--mark') throw new XtError('-m mark needs --mark');
        rule.mark = Number(next());
        save.push(`-m mark --mark 0x${rule.mark.toString(16)}`);
      } else if (m === 'conntrack') {
        const parts = ['-m conntrack'];
        while (words[i + 1]?.startsWith('--ct')) {
          const o = next();
          const v = next();
          if (o === '--ctstate' && v === 'DNAT') rule.ctDnat = true;
          else if (o === '--ctorigdst') rule.ctOrigDst = bare(v);
          else throw new XtError(`conntrack option ${o} ${v} is not modelled`);
          // ip6tables-save prints --ctorigdst without /128.
          parts.push(`${o} ${o === '--ctorigdst' ? bare(v) : v}`);
        }
        save.push(parts.join(' '));
      } else if (m === 'comment') {
        if (next() !== '--comment') throw new XtError('-m comment needs --comment');
        rule.comment = next().replace(/^"|"$/g, '');
        save.push(`-m comment --comment ${rule.comment}`);
      } else throw new XtError(`match ${m} is not modelled`);
    } else if (w === '-j') {
      rule.target = next();
      save.push(`-j ${rule.target}`);
    } else if (w === '--to-destination') {
      rule.toDestination = bare(next());
      save.push(`--to-destination ${rule.toDestination}`);
    } else if (w === '--to-source') {
      rule.toSource = bare(next());
      save.push(`--to-source ${rule.toSource}`);
    } else if (w === '--queue-num') {
      rule.queueNum = Number(next());
      save.push(`--queue-num ${rule.queueNum}`);
    } else throw new XtError(`option ${w} is not modelled`);
  }
  if (!rule.target) throw new XtError('a rule without a target');
  return { ...rule, chain, target: rule.target, text: save.join(' ') };
}

export class FakeXtables {
  /** table → chain → rules; built-in chains first, then user chains in the order they came. */
  private tables = new Map<string, Map<string, XtRule[]>>();

  private table(name: string): Map<string, XtRule[]> {
    let t = this.tables.get(name);
    if (!t) {
      const builtin = BUILTIN[name];
      if (!builtin) throw new XtError(`table '${name}' does not exist`);
      t = new Map(builtin.map((c) => [c, []]));
      this.tables.set(name, t);
    }
    return t;
  }

  /**
   * Applies ip6tables-restore input, all or nothing. With `noflush`, a table's other chains and
   * rules stay; declaring a user chain (`:NAME - [0:0]`) creates it or flushes it; `-A` appends.
   */
  restore(input: string, options: { readonly noflush: boolean }): void {
    const next = new Map(
      [...this.tables].map(([k, t]) => [k, new Map([...t].map(([c, r]) => [c, [...r]]))]),
    );
    const saved = this.tables;
    this.tables = next;
    try {
      let current: Map<string, XtRule[]> | undefined;
      input.split('\n').forEach((raw, i) => {
        const line = raw.trim();
        const at = `ip6tables-restore: line ${i + 1} failed`;
        if (line === '' || line.startsWith('#')) return;
        if (line.startsWith('*')) {
          const name = line.slice(1);
          if (!options.noflush) this.tables.delete(name);
          current = this.table(name);
        } else if (line === 'COMMIT') current = undefined;
        else if (!current) throw new XtError(`${at}: no table`);
        else if (line.startsWith(':')) {
          const [name = '', policy] = line.slice(1).split(/\s+/);
          const builtin = policy !== '-';
          if (builtin && !current.has(name)) throw new XtError(`${at}: no built-in chain ${name}`);
          if (!builtin) current.set(name, []);
        } else if (line.startsWith('-A ')) {
          let rule: XtRule;
          try {
            rule = parseRule(line);
          } catch (error) {
            throw new XtError(`${at}: ${(error as Error).message}`);
          }
          const chain = current.get(rule.chain);
          if (!chain) throw new XtError(`${at}: chain '${rule.chain}' does not exist`);
          const jump = !['DNAT', 'SNAT', 'NFQUEUE', 'ACCEPT', 'DROP', 'RETURN'].includes(
            rule.target,
          );
          if (jump && !current.has(rule.target))
            throw new XtError(`${at}: chain '${rule.target}' does not exist`);
          chain.push(rule);
        } else throw new XtError(`${at}: ${line}`);
      });
    } catch (error) {
      this.tables = saved;
      throw error;
    }
  }

  /** What `ip6tables-save -t TABLE` prints. */
  save(table: string): string {
    const t = this.table(table);
    const builtin = BUILTIN[table] ?? [];
    const stamp = 'Wed Nov 25 05:16:57 2026';
    return [
      `# Generated by ip6tables-save v1.8.9 (nf_tables) on ${stamp}`,
      `*${table}`,
      ...[...t.keys()].map((c) => (builtin.includes(c) ? `:${c} ACCEPT [0:0]` : `:${c} - [0:0]`)),
      ...[...t.values()].flatMap((rules) => rules.map((r) => r.text)),
      'COMMIT',
      `# Completed on ${stamp}`,
      '',
    ].join('\n');
  }

  /** The rules of a chain (none when it does not exist). */
  rules(table: string, chain: string): readonly XtRule[] {
    return this.tables.get(table)?.get(chain) ?? [];
  }
}
