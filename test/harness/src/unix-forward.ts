/**
 * A unix-socket -> TCP forwarder, a program of its own ({@link UNIX_FORWARD_SCRIPT}), started
 * inside a network namespace a test or bench made: the test process (in the machine's
 * namespace) reaches services that listen on that namespace's 127.0.0.1 only (tabby-store,
 * tabby-ipam) through socket files, which are bound to no network namespace. Prints one JSON
 * line per socket once it listens.
 * Usage: node unix-forward.js SOCKET_PATH PORT [SOCKET_PATH PORT]...
 */
import net from 'node:net';

const args = process.argv.slice(2);
for (let i = 0; i + 1 < args.length; i += 2) {
  const socketPath = args[i] ?? '';
  const port = Number(args[i + 1]);
  net
    .createServer((client) => {
      const upstream = net.connect(port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    })
    .listen(socketPath, () => process.stdout.write(`${JSON.stringify({ msg: 'forwarding', socketPath, port })}\n`));
}
process.on('SIGTERM', () => process.exit(0));
