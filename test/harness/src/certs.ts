import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { requireTool } from './tools.js';

/**
 * PEM files made with openssl for a test: a CA, a server cert for 127.0.0.1, a client cert,
 * a peer cert (127.0.0.1, server and client use: a service that serves and dials), and a
 * client cert from another CA.
 */
export interface TestCerts {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  readonly peerCert: string;
  readonly peerKey: string;
  readonly rogueCert: string;
  readonly rogueKey: string;
}

export function makeCerts(dir: string): TestCerts {
  const openssl = requireTool('openssl');
  const run = (...args: string[]): void => {
    execFileSync(openssl, args, { cwd: dir, stdio: 'pipe' });
  };
  const p = (f: string): string => path.join(dir, f);
  const ca = (name: string): void => {
    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.pem`));
  };
  const leaf = (name: string, caName: string, ext: string): void => {
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`));
    writeFileSync(p(`${name}.ext`), ext);
    run('x509', '-req', '-in', p(`${name}.csr`), '-CA', p(`${caName}.pem`), '-CAkey', p(`${caName}.key`), '-CAcreateserial', '-days', '1', '-extfile', p(`${name}.ext`), '-out', p(`${name}.pem`));
  };
  ca('ca');
  ca('rogue-ca');
  leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('peer', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  leaf('rogue', 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    peerCert: p('peer.pem'),
    peerKey: p('peer.key'),
    rogueCert: p('rogue.pem'),
    rogueKey: p('rogue.key'),
  };
}
