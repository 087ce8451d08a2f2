/**
 * Runs INSIDE the test VM on Debian's node 18 (bundled by test/e2e/smoke.test.ts): the parts of the smoke
 * test that need a program rather than a shell line. Writes a JSON report to the path in argv[2].
 *   - loopback: an HTTP server on 127.0.0.1 answers a request from the same process
 *   - nested guest: QEMU + SeaBIOS boot a marker boot sector from an IDE disk and print the marker
 */
import { writeFile } from 'node:fs/promises';
import { createServer, get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeMarkerDiskImage } from '../harness/boot-sector.js';
import { bootNestedGuest, type NestedGuestResult } from '../harness/nested-guest.js';

export interface SmokeReport {
  nodeVersion: string;
  loopbackBody: string | null;
  loopbackError: string | null;
  nested: NestedGuestResult;
}

async function loopbackRoundTrip(): Promise<string> {
  const server = createServer((_req, res) => res.end('pong from 127.0.0.1'));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<string>((done, fail) => {
      get({ host: '127.0.0.1', port, path: '/', timeout: 10_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => done(body));
      }).on('error', fail);
    });
  } finally {
    server.close();
  }
}

async function main(): Promise<void> {
  const [reportPath, marker] = process.argv.slice(2);
  if (!reportPath || !marker) throw new Error('usage: smoke-main <report.json> <marker>');
  let loopbackBody: string | null = null;
  let loopbackError: string | null = null;
  try {
    loopbackBody = await loopbackRoundTrip();
  } catch (err) {
    loopbackError = String(err);
  }
  const disk = '/tmp/marker.img';
  await writeMarkerDiskImage(disk, marker, 1024 * 1024);
  const nested = await bootNestedGuest({
    qemuArgs: ['-drive', `file=${disk},format=raw,if=ide`],
    marker,
    serialLog: '/tmp/serial.log',
    timeoutMs: 60_000,
  });
  const report: SmokeReport = { nodeVersion: process.version, loopbackBody, loopbackError, nested };
  await writeFile(reportPath, JSON.stringify(report, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
