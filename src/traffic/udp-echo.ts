// flowmig's UDP echo server, run inside a server namespace: every datagram goes back to its sender
// unchanged. Prints `listening` once bound; on SIGTERM or SIGINT prints {"received": n} and exits.
// Usage: node udp-echo.js [--port 5555] [--address ::]
import { createSocket } from 'node:dgram';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5555' },
    address: { type: 'string', default: '::' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 1 || port > 65_535) {
  process.stderr.write(`udp-echo: bad port '${values.port}'\n`);
  process.exit(2);
}
let received = 0;
const sock = createSocket({ type: 'udp6', recvBufferSize: 8 << 20 });
sock.on('message', (data, from) => {
  received++;
  sock.send(data, from.port, from.address);
});
sock.on('error', (e) => {
  process.stderr.write(`udp-echo: ${e.message}\n`);
  process.exit(1);
});
const stop = () => {
  process.stdout.write(`${JSON.stringify({ received })}\n`);
  sock.close(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
sock.bind(port, values.address, () => process.stdout.write('listening\n'));
