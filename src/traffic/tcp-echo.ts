// flowmig's TCP echo server, run inside a server namespace: every byte goes back on its
// connection. Prints `listening` once bound; on SIGTERM or SIGINT prints {"connections": n,
// "bytes": n} and exits.
// Usage: node tcp-echo.js [--port 7000] [--address ::]
import { createServer, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '7000' },
    address: { type: 'string', default: '::' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65_535) {
  process.stderr.write(`tcp-echo: bad port '${values.port}'\n`);
  process.exit(2);
}
let connections = 0;
let bytes = 0;
const open = new Set<Socket>();
const server = createServer((s) => {
  connections++;
  open.add(s);
  s.on('data', (d) => {
    bytes += d.length;
  });
  s.on('error', () => {}); // a reset connection is the client's story, not ours
  s.on('close', () => open.delete(s));
  s.pipe(s);
});
server.on('error', (e) => {
  process.stderr.write(`tcp-echo: ${e.message}\n`);
  process.exit(1);
});
server.listen(port, values.address, () => process.stdout.write('listening\n'));
const stop = () => {
  process.stdout.write(`${JSON.stringify({ connections, bytes })}\n`);
  for (const s of open) s.destroy();
  server.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
