// A test CA and a server certificate it signed (for 127.0.0.1 and localhost), made with openssl
// at test time, plus an unrelated CA whose trust must not be enough.
import { writeFileSync } from 'node:fs';
import { run } from './processes';

export interface TestPki {
  /** The CA that signed the server certificate: clients trust this. */
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Another CA, which did not sign the server certificate. */
  readonly otherCaCert: string;
  /** A key that is not the server certificate's. */
  readonly otherKey: string;
}

/** Makes the PKI in `dir` (P-256 keys, valid for 30 days). */
export async function makeTestPki(dir: string): Promise<TestPki> {
  const file = (name: string): string => `${dir}/${name}`;
  const openssl = async (args: string[]): Promise<void> => {
    const result = await run('openssl', args, 20_000);
    if (result.code !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await Promise.all([
    openssl(['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '30', '-subj', '/CN=pushgate test CA']),
    openssl(['req', '-x509', ...ec, '-keyout', file('other-ca.key'), '-out', file('other-ca.pem'), '-days', '30', '-subj', '/CN=some other CA']),
    openssl(['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost']),
  ]);
  writeFileSync(file('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n');
  await openssl(['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.pem'), '-days', '30', '-extfile', file('server.ext')]);
  return { caCert: file('ca.pem'), serverCert: file('server.pem'), serverKey: file('server.key'), otherCaCert: file('other-ca.pem'), otherKey: file('other-ca.key') };
}
