/**
 * Runs INSIDE the test VM. Media changes on a live stick (pve-usb-gadget media), proven host-side: with
 * isolation off the host's own usb-storage claims the stick and reads it the way a guest would (as in
 * identityAndData), so "the guest reads the new medium" is "the host's sr/sd device reads it". A nested
 * Linux guest (bench-guest.ts) reading it through usb-host is not done here (see the report).
 *   mediaSwap        swap the ISO of a cdrom LUN: the new sectors read back; the notes name the new ISO
 *   mediaEject       eject a removable disk LUN: configfs has no file, the host disk has no medium
 *   mediaForceEject  the host holds the cdrom open (Linux sr locks the door: PREVENT ALLOW MEDIUM
 *                    REMOVAL): eject is refused naming --force, nothing changed; --force ejects it
 *   mediaKill        kill -9 after the first configfs write of a mode-changing insert: the record keeps
 *                    the intent, status shows it, the next insert settles and completes, post-stop is clean
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostState, scsiDisksOn } from './host-state.js';
import { gadgetNotes, IMAGES, PveNode, SETTINGS } from './pve-node.js';
import { NODE_BIN, runHook } from './qemu-server.js';

const CLI = '/project/dist/cli.cjs';
const ISO_DIR = '/var/lib/vz/template/iso';

/** The CLI as a child process; never spawnSync: the fake API answering it runs in this process's event loop. */
export function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(NODE_BIN, [CLI, ...args], { env: { ...process.env, PVE_USB_GADGET_SETTINGS: SETTINGS, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function iso(name: string, tag: string): string {
  const path = `${ISO_DIR}/${name}`;
  const b = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < b.length; i += 2048) b.write(`${tag}-SECTOR-${i / 2048}`, i);
  writeFileSync(path, b);
  return path;
}

function readHead(dev: string, offset: number, n = 24): string {
  try {
    execFileSync('blockdev', ['--flushbufs', dev]);
    const fd = openSync(dev, 'r');
    try {
      const b = Buffer.alloc(n);
      readSync(fd, b, 0, n, offset);
      return b.toString('latin1');
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return `error ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
}

export const lunFile = (vmid: number, lun: number) => readFileSync(`/sys/kernel/config/usb_gadget/pvug-${vmid}/functions/mass_storage.0/lun.${lun}/file`, 'utf8').trim();
const record = (vmid: number) => JSON.parse(readFileSync(`/run/pve-usb-gadget/${vmid}.json`, 'utf8')) as Record<string, any>;

async function disksOf(vmid: number, want: number) {
  const busPort = record(vmid).busPort as string;
  let disks = scsiDisksOn(busPort);
  for (let i = 0; i < 100 && disks.length < want; i++) {
    await sleep(200);
    disks = scsiDisksOn(busPort);
  }
  return disks;
}

/** VM `vmid`: lun0 a removable disk, lun1 a cdrom with `first`; started with isolation off. */
async function startStick(node: PveNode, vmid: number, first: string) {
  node.writeSettings({ isolate: false });
  const disk = `${IMAGES}/vm${vmid}.img`;
  writeFileSync(disk, Buffer.alloc(8 * 1024 * 1024, 0x44));
  const pid = (0x5600 + (vmid % 0x100)).toString(16);
  node.addVm(vmid, gadgetNotes({ image: disk, vendor_id: '0x0781', product_id: `0x${pid}`, serial: `PVUGMEDIA${vmid}`, speed: 'high' }, `\n[usb-gadget.lun1]\nimage = ${first}\ncdrom = true\n`));
  execFileSync('modprobe', ['-a', 'sd_mod', 'sr_mod']);
  const pre = await runHook(vmid, 'pre-start');
  return { pre, disk, disks: pre.code === 0 ? await disksOf(vmid, 2) : [] };
}

async function stopStick(node: PveNode, vmid: number) {
  const post = await runHook(vmid, 'post-stop');
  node.writeSettings({});
  return { post, after: hostState() };
}

export async function mediaSwap(node: PveNode) {
  const a = iso('media-a.iso', 'ISO-A');
  const b = iso('media-b.iso', 'ISO-B');
  const s = await startStick(node, 310, a);
  const cd = s.disks.find((d) => d.lun === 1);
  const before = cd ? readHead(`/dev/${cd.name}`, 5 * 2048) : 'no cdrom device';
  const insert = await cli(['media', '310', '--lun', '1', 'insert', b]);
  await sleep(1000); // the host sees the unit attention (medium changed) on its next command
  const readAfter = cd ? readHead(`/dev/${cd.name}`, 5 * 2048) : 'no cdrom device';
  node.syncConfigFile(310); // pmxcfs shows the API's edit in the local file at once; the fake API needs telling
  const show = await cli(['media', '310', 'show', '--json']);
  const status = await cli(['status', '--json']);
  const notes = String(node.api.vmConfig(310).description ?? '');
  const again = await cli(['media', '310', '--lun', '1', 'insert', b]);
  return { pre: s.pre, disks: s.disks, before, insert, readAfter, configfs: lunFile(310, 1), show, status, notes, again, ...(await stopStick(node, 310)) };
}

export async function mediaEject(node: PveNode) {
  const s = await startStick(node, 311, iso('media-c.iso', 'ISO-C'));
  const sd = s.disks.find((d) => d.lun === 0);
  const before = sd ? readHead(`/dev/${sd.name}`, 0, 4) : 'no disk device';
  const eject = await cli(['media', '311', 'eject']);
  await sleep(1000);
  const readAfter = sd ? readHead(`/dev/${sd.name}`, 0, 4) : 'no disk device';
  const size = sd ? spawnSync('blockdev', ['--getsize64', `/dev/${sd.name}`], { encoding: 'utf8' }) : undefined;
  const notes = String(node.api.vmConfig(311).description ?? '');
  const unknownLun = await cli(['media', '311', '--lun', '7', 'eject']);
  const refused = await cli(['media', '311', '--lun', '1', 'insert', '/etc/passwd', '--once']);
  return { pre: s.pre, before, eject, readAfter, sizeAfter: size?.stdout.trim() ?? '', sizeErr: size?.stderr ?? '', configfs: lunFile(311, 0), record: record(311).luns, notes, unknownLun, refused, configfsAfterRefusals: lunFile(311, 1), ...(await stopStick(node, 311)) };
}

export async function mediaForceEject(node: PveNode) {
  const c = iso('media-d.iso', 'ISO-D');
  const s = await startStick(node, 312, c);
  const cd = s.disks.find((d) => d.lun === 1);
  // holding the cdrom open makes Linux's sr driver send PREVENT ALLOW MEDIUM REMOVAL (door locked)
  const holder = cd ? spawn('sh', ['-c', `exec 3</dev/${cd.name}; sleep 60`], { stdio: 'ignore' }) : undefined;
  await sleep(1500);
  const locked = await cli(['media', '312', '--lun', '1', 'eject']);
  const stillServed = lunFile(312, 1);
  const forced = await cli(['media', '312', '--lun', '1', 'eject', '--force']);
  const afterForce = lunFile(312, 1);
  holder?.kill('SIGKILL');
  return { pre: s.pre, locked, stillServed, forced, afterForce, ...(await stopStick(node, 312)) };
}

export async function mediaKill(node: PveNode) {
  const s = await startStick(node, 313, iso('media-e.iso', 'ISO-E'));
  const disk2 = `${IMAGES}/vm313-b.img`;
  writeFileSync(disk2, Buffer.alloc(4 * 1024 * 1024, 0x45));
  // cdrom → writable disk: eject, cdrom=0, ro=0, file: killed right after the first write
  const killed = await cli(['media', '313', '--lun', '1', 'insert', disk2, '--no-cdrom', '--no-readonly', '--once'], { PVE_USB_GADGET_MEDIA_FAULT: '1' });
  const recordAfterKill = record(313);
  const configfsAfterKill = lunFile(313, 1);
  const status = await cli(['status', '--json']);
  const retry = await cli(['media', '313', '--lun', '1', 'insert', disk2, '--no-cdrom', '--no-readonly', '--once']);
  const recordAfterRetry = record(313);
  return { pre: s.pre, killed, recordAfterKill, configfsAfterKill, status, retry, recordAfterRetry, configfs: lunFile(313, 1), ...(await stopStick(node, 313)) };
}
