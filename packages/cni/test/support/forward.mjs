// A unix-socket → TCP forwarder, started inside a test's network namespace: the test process
// (in the machine's namespace) reaches a service listening on that namespace's 127.0.0.1
// through a socket file, which is not bound to any network namespace.
// Usage: node forward.mjs SOCKET_PATH PORT [SOCKET_PATH PORT]...
import net from 'node:net';

const args = process.argv.slice(2);
for (let i = 0; i + 1 < args.length; i += 2) {
  const socketPath = args[i];
  const port = Number(args[i + 1]);
  net
    .createServer((client) => {
      const upstream = net.connect(port, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    })
    .listen(socketPath, () => console.log(JSON.stringify({ msg: 'forwarding', socketPath, port })));
}
