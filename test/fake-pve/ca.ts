/**
 * A throw-away certificate authority shaped like a Proxmox cluster's (/etc/pve/pve-root-ca.pem) and a
 * node certificate it signs for localhost, 127.0.0.1 and ::1 (as pveproxy's does). Keys come from
 * node:crypto (fast, native), certificates are built with node-forge: no openssl binary needed.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import forge from 'node-forge';

export interface KeyAndCert {
  keyPem: string;
  certPem: string;
}

export interface TestCa extends KeyAndCert {
  /** a server certificate for `dnsNames` and `ips`, signed by this CA */
  issueServerCert(dnsNames: string[], ips: string[]): KeyAndCert;
}

function rsaKeyPair(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

/** forge's cert.sign, but the RSA signature comes from node:crypto (forge's pure-JS RSA takes ~1 s). */
function signWith(cert: forge.pki.Certificate, keyPem: string): void {
  const oid = forge.pki.oids.sha256WithRSAEncryption as string;
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  // getTBSCertificate exists in node-forge but is missing from its type definitions
  const pki = forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 };
  const tbs = pki.getTBSCertificate(cert);
  (cert as { tbsCertificate?: forge.asn1.Asn1 }).tbsCertificate = tbs;
  const der = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  cert.signature = sign('sha256', der, keyPem).toString('binary');
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f; // positive
  return bytes.toString('hex');
}

function validity(cert: forge.pki.Certificate, years: number): void {
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 24 * 3600 * 1000);
  cert.validity.notAfter = new Date(now + years * 365 * 24 * 3600 * 1000);
}

export function createTestCa(commonName = 'Proxmox Virtual Environment'): TestCa {
  const keys = rsaKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = forge.pki.publicKeyFromPem(keys.publicPem);
  caCert.serialNumber = serialNumber();
  validity(caCert, 10);
  const subject = [
    { name: 'commonName', value: commonName },
    { name: 'organizationalUnitName', value: randomBytes(16).toString('hex') },
    { name: 'organizationName', value: 'PVE Cluster Manager CA' },
  ];
  caCert.setSubject(subject);
  caCert.setIssuer(subject);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signWith(caCert, keys.privatePem);

  return {
    keyPem: keys.privatePem,
    certPem: forge.pki.certificateToPem(caCert),
    issueServerCert(dnsNames, ips) {
      const leafKeys = rsaKeyPair();
      const cert = forge.pki.createCertificate();
      cert.publicKey = forge.pki.publicKeyFromPem(leafKeys.publicPem);
      cert.serialNumber = serialNumber();
      validity(cert, 2);
      cert.setSubject([
        { name: 'commonName', value: dnsNames[0] ?? 'localhost' },
        { name: 'organizationalUnitName', value: 'PVE Cluster Node' },
        { name: 'organizationName', value: 'Proxmox Virtual Environment' },
      ]);
      cert.setIssuer(caCert.subject.attributes);
      cert.setExtensions([
        { name: 'basicConstraints', cA: false },
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, nonRepudiation: true },
        { name: 'extKeyUsage', serverAuth: true },
        {
          name: 'subjectAltName',
          altNames: [...dnsNames.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))],
        },
        { name: 'subjectKeyIdentifier' },
        { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
      ]);
      signWith(cert, keys.privatePem);
      return { keyPem: leafKeys.privatePem, certPem: forge.pki.certificateToPem(cert) };
    },
  };
}
