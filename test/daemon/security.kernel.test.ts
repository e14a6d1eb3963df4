// Another local user gets nothing from a lab: its state directory (created by flowmig inside a
// world-traversable directory) is private, every file in it is the owner's only, the daemon's log
// does not hold the HTTP token, and as `nobody` no file is read, no socket is reached and no HTTP
// request is accepted (with no token, a guessed one, or any token found in a readable file).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Flowmig, type LabStatus } from '../../src/control/flowmig.js';
import { DaemonClient } from '../../src/daemon-api/client.js';
import type { HelloReply } from '../../src/daemon-api/protocol.js';
import { loadLab } from '../../src/lab/load.js';
import { cli, removeNamespacesWith, uniquePrefix } from '../kernel-support/lab.js';

const exec = promisify(execFile);

/** Every path under `dir` (depth first), with its mode and kind. */
async function walk(dir: string): Promise<{ path: string; mode: number; kind: string }[]> {
  const found: { path: string; mode: number; kind: string }[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const path = join(dir, name);
    const s = await lstat(path);
    const kind = s.isDirectory() ? 'dir' : s.isSocket() ? 'socket' : s.isFile() ? 'file' : 'other';
    found.push({ path, mode: s.mode & 0o7777, kind });
    if (s.isDirectory()) found.push(...(await walk(path)));
  }
  return found;
}

/**
 * Run as `nobody`: lists the state directory, reads every file, connects to every socket, then
 * POSTs every verb to the HTTP API with no token, wrong ones, and every 32-hex-digit string it
 * could read. Prints what each attempt got, as JSON.
 */
const PROBE = `
const fs = require('node:fs');
const net = require('node:net');
const [url, dir, list] = process.argv.slice(1);
const paths = JSON.parse(list);
(async () => {
  const out = { listed: 'ok', read: {}, connected: {}, http: [] };
  try { fs.readdirSync(dir); } catch (e) { out.listed = e.code; }
  const tokens = new Set();
  for (const p of paths.files) {
    try {
      const text = fs.readFileSync(p, 'utf8');
      out.read[p] = 'ok';
      for (const m of text.matchAll(/[0-9a-f]{32}/g)) tokens.add(m[0]);
    } catch (e) { out.read[p] = e.code; }
  }
  for (const p of paths.sockets) {
    out.connected[p] = await new Promise((resolve) => {
      const s = net.connect(p);
      s.on('connect', () => { s.destroy(); resolve('ok'); });
      s.on('error', (e) => resolve(e.code));
    });
  }
  const auths = [null, 'Bearer ', 'Bearer 0', 'Bearer ' + '0'.repeat(32), 'Bearer ' + 'f'.repeat(64),
    ...[...tokens].flatMap((t) => ['Bearer ' + t, 'Basic ' + t, t])];
  const bodies = [
    { verb: 'hello' }, { verb: 'status' }, { verb: 'flows' }, { verb: 'swap' },
    { verb: 'migrate', flow: 'fe00::1', node: 'D' }, { verb: 'evacuate', from: 'C', to: 'D' },
    { verb: 'reconcile' }, { verb: 'serve' }, { verb: 'unserve' }, { verb: 'down' },
    { verb: 'load', kind: 'ping' }, { verb: 'unload', load: 1 },
  ];
  for (const body of bodies) {
    for (const auth of auths) {
      let status;
      try {
        const res = await fetch(url, {
          method: 'POST',
          body: JSON.stringify({ id: 1, ...body }),
          headers: auth === null ? {} : { authorization: auth },
        });
        status = res.status;
        await res.text();
      } catch (e) { status = String(e.cause?.code ?? e.message); }
      out.http.push({ verb: body.verb, auth: auth === null ? 'none' : auth.slice(0, 12), status });
    }
  }
  // The dashboard's live feed: refused the same way.
  for (const auth of auths) {
    let status;
    try {
      const res = await fetch(url.slice(0, -'/api'.length) + '/events', {
        headers: auth === null ? {} : { authorization: auth },
      });
      status = res.status;
      await res.body?.cancel();
    } catch (e) { status = String(e.cause?.code ?? e.message); }
    out.http.push({ verb: 'GET /events', auth: auth === null ? 'none' : auth.slice(0, 12), status });
  }
  out.tokensFound = tokens.size;
  process.stdout.write(JSON.stringify(out));
})();
`;

/** The lab's status read by the library, as root (as `flowmig status --direct` does). */
async function statusOf(stateDir: string, id: string): Promise<LabStatus> {
  const fm = new Flowmig({ stateDir });
  try {
    return await fm.status(id);
  } finally {
    fm.close();
  }
}

interface ProbeResult {
  listed: string;
  read: Record<string, string>;
  connected: Record<string, string>;
  http: { verb: string; auth: string; status: number | string }[];
  tokensFound: number;
}

describe('a lab as seen by another user', () => {
  const prefix = uniquePrefix();
  let parent = '';
  let stateDir = '';
  let id = '';
  let url = '';
  let before_: LabStatus | undefined;

  before(async () => {
    // A world-traversable parent (as /run is): the state directory inside it is not made by the
    // test, so its mode is whatever flowmig gives it.
    parent = await mkdtemp(join(tmpdir(), 'flowmig-sec-'));
    await chmod(parent, 0o755);
    stateDir = join(parent, 'state');
    const fm = new Flowmig({ stateDir });
    const lab = await loadLab(undefined, { prefix });
    id = lab.id;
    await fm.up(lab);
    fm.close();
    const daemon = await cli(['daemon', '--detach', '--http', '0', '--lab', id], { stateDir });
    assert.equal(daemon.code, 0, daemon.stderr);
    // The URL is in the daemon log (it is no secret); the listener may open just after `hello`.
    const log = join(stateDir, `${id}.daemon.log`);
    for (const deadline = Date.now() + 10_000; url === '' && Date.now() < deadline; ) {
      url = /http API on (http:\/\/\S+)/.exec(await readFile(log, 'utf8'))?.[1] ?? '';
      if (url === '') await new Promise((r) => setTimeout(r, 20));
    }
    assert.notEqual(url, '', 'the daemon logs its HTTP URL');
    before_ = await statusOf(stateDir, id);
  });

  after(async () => {
    if (stateDir !== '') await cli(['down', '--lab', id], { stateDir }).catch(() => undefined);
    await removeNamespacesWith(prefix);
    if (parent !== '') await rm(parent, { recursive: true, force: true });
  });

  it('keeps the state directory 0700 and every file in it to its owner', async () => {
    assert.equal((await lstat(stateDir)).mode & 0o777, 0o700, 'the state directory');
    const open = (await walk(stateDir)).filter((e) => (e.mode & 0o077) !== 0);
    assert.deepEqual(
      open.map((e) => `${e.path} ${e.kind} ${e.mode.toString(8)}`),
      [],
      'entries the group or others may use',
    );
  });

  it('gives root the token in a 0600 file, and the HTTP API accepts it', async () => {
    const file = join(stateDir, `${id}.token`);
    assert.equal((await lstat(file)).mode & 0o777, 0o600);
    const token = (await readFile(file, 'utf8')).trim();
    assert.match(token, /^[0-9a-f]{32}$/);
    const res = await fetch(url, {
      method: 'POST',
      body: '{"verb":"hello"}',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
    const reply = (await res.json()) as { id: null; ok: true; result: HelloReply };
    assert.equal(reply.result.lab, id);
    assert.deepEqual(reply.result.http, { url, tokenFile: file });
  });

  it('writes no token to the daemon log', async () => {
    const log = await readFile(join(stateDir, `${id}.daemon.log`), 'utf8');
    assert.doesNotMatch(log, /[0-9a-f]{32}/);
  });

  it('as nobody: no file read, no socket reached, every HTTP request refused, nothing changed', async () => {
    const entries = await walk(stateDir);
    const paths = {
      files: entries.filter((e) => e.kind === 'file').map((e) => e.path),
      sockets: entries.filter((e) => e.kind === 'socket').map((e) => e.path),
    };
    assert.ok(paths.files.some((p) => p.endsWith('.daemon.log')));
    assert.ok(paths.sockets.some((p) => p.endsWith(`${id}.sock`)));
    const { stdout } = await exec(
      'setpriv',
      [
        '--reuid=nobody',
        '--regid=nogroup',
        '--clear-groups',
        '--',
        process.execPath,
        '-e',
        PROBE,
        url,
        stateDir,
        JSON.stringify(paths),
      ],
      { cwd: '/' },
    );
    const got = JSON.parse(stdout) as ProbeResult;
    assert.ok(got.http.length >= 50);
    // Every way in that worked, listed together so a failure shows all of them at once.
    const problems = [
      ...(got.listed === 'EACCES' ? [] : [`listed the state directory: ${got.listed}`]),
      ...Object.entries(got.read)
        .filter(([, r]) => r !== 'EACCES')
        .map(([p, r]) => `read ${p}: ${r}`),
      ...Object.entries(got.connected)
        .filter(([, r]) => r !== 'EACCES')
        .map(([p, r]) => `connected to ${p}: ${r}`),
      ...(got.tokensFound === 0 ? [] : [`found ${got.tokensFound} token(s)`]),
      ...got.http
        .filter((h) => h.status !== 401)
        .map((h) => `HTTP ${h.verb} with ${h.auth}: ${h.status}`),
    ];
    // Nothing changed: the lab is up, the flow points where it did, the daemon applied nothing.
    const now = await statusOf(stateDir, id).catch((e: Error) => e);
    if (now instanceof Error) problems.push(`status: ${now.message}`);
    else {
      if (now.phase !== 'up') problems.push(`lab phase ${now.phase}`);
      const flows = (s: LabStatus | undefined) =>
        JSON.stringify(s?.flows.map((f) => [f.address, f.responder, f.kernelResponder]));
      if (flows(now) !== flows(before_))
        problems.push(`flows now ${flows(now)}, were ${flows(before_)}`);
      if (!now.daemon?.running) problems.push('the daemon no longer runs');
    }
    assert.deepEqual(problems, []);
    const c = await DaemonClient.connect(join(stateDir, `${id}.sock`));
    try {
      assert.equal((await c.request<HelloReply>({ verb: 'hello' })).changes, 0);
    } finally {
      c.close();
    }
  });
});
