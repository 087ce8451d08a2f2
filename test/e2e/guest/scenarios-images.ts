/**
 * Runs INSIDE the test VM: issue 5 end to end. A local HTTP server on 127.0.0.1 plays unRAID's release
 * server (release lists in both published shapes, the zips); `pve-usb-gadget image create
 * --unraid-version` (Debian's node 18, the shipped dist/cli.cjs) downloads, verifies and builds the
 * image; the hook exports it; the nested guest boots firmware → syslinux → the test kernel → the
 * payload's marker. Meanwhile the refusals: a download with the wrong MD5, zips that are not unRAID
 * releases, a version that is not listed.
 * The fixture (test/e2e/harness/unraid-fixture.ts) is built on the test side into $PVUG_UNRAID_FIXTURE.
 */
import { execFile } from 'node:child_process';
import { createReadStream, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { MANIFEST, releaseLists, type UnraidFixtureManifest } from '../harness/unraid-fixture.js';
import { hostState } from './host-state.js';
import { gadgetNotes, IMAGES, type PveNode } from './pve-node.js';
import { NODE_BIN, QemuServerStandIn } from './qemu-server.js';

const CLI = '/project/dist/cli.cjs';
const fixtureDir = () => process.env.PVUG_UNRAID_FIXTURE ?? '/results/unraid-fixture';
/**
 * The nested guest is TCG inside TCG: SeaBIOS reads ~9 MiB for syslinux through its USB stack, then the
 * xz-compressed kernel unpacks itself and boots. Minutes on a busy 2-core machine.
 */
const BOOT_TIMEOUT_MS = 900_000;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** how the payload's line ends (test/e2e/vm/unraid-payload-init) */
const PAYLOAD_LINE_END = ' s of kernel uptime';

/** Where the built image is copied for the test side's UEFI boot (/results is the test's folder). */
export const UEFI_COPY = '/results/unraid-uefi.img';

/** A program's exit code and output. Asynchronous: the release server runs in this process. */
function run(file: string, args: string[]): Promise<CliRun> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C', HOME: '/root' }, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr, ms: Date.now() - t0 });
      },
    );
  });
}

/** The admin CLI as an operator runs it, on Debian's node. */
export const cli = (args: string[]) => run(NODE_BIN, [CLI, ...args]);

interface ReleaseServer {
  base: string;
  manifest: UnraidFixtureManifest;
  /** "GET /path" of every request, in order */
  requests: string[];
  close: () => Promise<void>;
}

/** unRAID's release server, locally: the lists from the manifest, the zips under /dl/. */
async function serveReleases(dir: string): Promise<ReleaseServer> {
  const manifest = JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as UnraidFixtureManifest;
  const requests: string[] = [];
  let lists: Record<string, unknown> = {};
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(`${req.method ?? '?'} ${url.pathname}`);
    const name = url.pathname.slice(1);
    if (name in lists) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(lists[name]));
      return;
    }
    const release = manifest.releases.find((r) => url.pathname === `/dl/${r.urlName}`);
    if (release) {
      const file = path.join(dir, release.file);
      res.writeHead(200, { 'content-type': 'application/zip', 'content-length': String(statSync(file).size) });
      createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  // a CLI run in the slow VM can pause longer than node's 5 s keep-alive between two requests; the
  // server closing the idle socket just as the client reuses it fails that fetch (seen here)
  server.keepAliveTimeout = 120_000;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('release server has no TCP address');
  const base = `http://127.0.0.1:${address.port}`;
  lists = releaseLists(base, manifest);
  const close = () =>
    new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeIdleConnections(); // node 18 leaves idle keep-alive sockets open on close()
    });
  return { base, manifest, requests, close };
}

const listDir = (dir: string) => readdirSync(dir).sort();

/** Waits for each pattern in turn on the guest's serial port; returns ms from the start to each one. */
async function serialTimeline(qs: QemuServerStandIn, vmid: number, patterns: string[], timeoutMs: number) {
  const seenAtMs: Record<string, number | null> = {};
  let elapsed = 0;
  let serial = '';
  for (const p of patterns) {
    const r = await qs.waitForSerial(vmid, p, Math.max(1000, timeoutMs - elapsed));
    elapsed += r.ms;
    serial = r.serial;
    seenAtMs[p] = r.found ? elapsed : null;
    if (!r.found) break;
  }
  return { seenAtMs, serial, elapsedMs: elapsed };
}

/**
 * Each refusal in a fresh directory, so "nothing left behind" is a directory listing. Returns what
 * each CLI run printed and left, and the requests of the wrong-MD5 run.
 */
async function refusals(srv: ReleaseServer) {
  const m = srv.manifest;
  const attempt = async (name: string, args: string[]) => {
    const dir = `/var/lib/vz/pvug-refusal-${name}`;
    mkdirSync(dir, { recursive: true });
    const result = await cli(['image', 'create', `${dir}/unraid.img`, ...args]);
    return { ...result, left: listDir(dir) };
  };
  const combined = `${srv.base}/releases-combined.json`;
  const branches = `${srv.base}/branches.json`;
  srv.requests.length = 0;
  const wrongMd5 = await attempt('md5', ['--unraid-version', m.badMd5Version, '--releases-url', combined]);
  const wrongMd5Requests = srv.requests.splice(0);
  const notUnraidDownload = await attempt('download', ['--unraid-version', m.notUnraidVersion, '--releases-url', branches]);
  const notUnraidZip = await attempt('zip', ['--unraid', '--from-zip', path.join(fixtureDir(), 'not-unraid.zip')]);
  const unknownVersion = await attempt('version', ['--unraid-version', '6.0.0-nonexistent', '--releases-url', branches]);
  return { wrongMd5, wrongMd5Requests, notUnraidDownload, notUnraidZip, unknownVersion };
}

/**
 * Build from a downloaded release, inspect, hand it to a VM, boot it with BIOS (SeaBIOS). The nested
 * guest keeps one of the test VM's two CPUs busy for minutes, so the refusals and the release listing
 * run on the other one meanwhile.
 */
export async function unraidImage(node: PveNode) {
  const srv = await serveReleases(fixtureDir());
  try {
    const m = srv.manifest;
    const image = `${IMAGES}/unraid.img`;
    const create = await cli(['image', 'create', image, '--unraid-version', m.goodVersion, '--releases-url', `${srv.base}/branches.json`]);
    const createRequests = srv.requests.splice(0);
    const afterCreate = listDir(IMAGES);
    const st = statSync(image, { throwIfNoEntry: false });

    const vmid = 300;
    node.addVm(vmid, gadgetNotes({ image, vendor_id: '0x0781', product_id: '0x5583', serial: 'PVUGUNRAID0300' }), { extra: { memory: '256' } });
    const qs = new QemuServerStandIn(node);
    const t0 = Date.now();
    const start = await qs.start(vmid);
    // the nested QEMU was spawned between pre-start and post-start; the timeline counts from here
    const startMs = Date.now() - t0;
    const during = hostState();
    const payload = `pvug-payload: ${m.marker}`;
    const booting = start.started
      ? // the last pattern ends the payload's line: the serial log is read while the guest writes it
        serialTimeline(qs, vmid, ['SYSLINUX', m.menuTitle, payload, PAYLOAD_LINE_END], BOOT_TIMEOUT_MS)
      : Promise.resolve({ seenAtMs: {} as Record<string, number | null>, serial: '', elapsedMs: 0 });
    const inspect = await cli(['image', 'inspect', image]);
    // for the UEFI boot on the test side (OVMF inside the nested guest is too slow here)
    const copyForUefi = await run('cp', ['--sparse=always', image, UEFI_COPY]);
    const refused = await refusals(srv);
    const releases = await cli(['image', 'unraid-releases', '--releases-url', `${srv.base}/releases-combined.json`]);
    const boot = await booting;
    const s = (ms: number | null | undefined) => (typeof ms === 'number' ? `${(ms / 1000).toFixed(1)} s` : 'never');
    const uptime = / after ([\d.]+) s of kernel uptime/.exec(boot.serial)?.[1] ?? '?';
    process.stdout.write(
      `unraid: image create ${s(create.ms)}, VM start (hooks) ${s(startMs)}, then on the guest's serial port: SYSLINUX ${s(boot.seenAtMs.SYSLINUX)}, ` +
        `menu ${s(boot.seenAtMs[m.menuTitle])}, payload ${s(boot.seenAtMs[payload])} (kernel uptime ${uptime} s)\n`,
    );
    const stop = await qs.stop(vmid);
    return {
      manifest: m,
      create,
      createRequests,
      afterCreate,
      image: st ? { size: st.size, allocated: st.blocks * 512, mode: st.mode & 0o777 } : null,
      inspect,
      start,
      startMs,
      during,
      boot,
      copyForUefi,
      refusals: refused,
      releases,
      stop,
      after: hostState(),
    };
  } finally {
    await srv.close();
  }
}
