// Runs inside the client namespace (started by swap.ts): for each line read on stdin it sends
// one UDP datagram into the flow, so the translator holds a fresh conntrack entry for the next
// swap to delete, and answers with a line once the datagram is out. Usage: poke.js ADDRESS PORT
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';

const [address = 'fe00::1', port = '9'] = process.argv.slice(2);
const sock = createSocket('udp6');
const payload = Buffer.from('flowmig bench poke');
for await (const _line of createInterface({ input: process.stdin })) {
  await new Promise<void>((resolve, reject) =>
    sock.send(payload, Number(port), address, (e) => (e ? reject(e) : resolve())),
  );
  process.stdout.write('sent\n');
}
sock.close();
