// The Perl program for storage snapshots (storage/pve-snapshot.ts), run for real with perl against the
// test stand-in of PVE::Storage: what the plugin says it can snapshot, and snapshot, rollback, list
// and delete on an lvmthin-like volume (a backing file), with Proxmox's words on each failure.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import type { Exec } from '../../src/ports/exec.js';
import { parsePveSnapshotOutput, pveSnapshotArgs, pveVolumeSnapshots } from '../../src/storage/pve-snapshot.js';

const STUB = resolve(__dirname, '../e2e/guest/pve-storage-stub');
const dir = mkdtempSync(join(tmpdir(), 'pvug-pvesnap-'));
const cfg = join(dir, 'storage.cfg');
writeFileSync(cfg, `dir: local\n\tpath ${dir}/vz\n\tcontent images\n\nlvm: usb-lvm\n\tvgname thickvg\n\tcontent images\n\nlvmthin: usb-thin\n\tvgname thinvg\n\tthinpool data\n\tcontent images\n`);
mkdirSync(join(dir, 'lvm/thinvg'), { recursive: true });
const vol = join(dir, 'lvm/thinvg/vm-100-usb.img');
writeFileSync(vol, 'AAAA');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const perlExec: Exec = async (file, args) => {
  const r = await execa(file, args, { reject: false, env: { LC_ALL: 'C', PERL5LIB: STUB, PVUG_STUB_STORAGE_CFG: cfg, PVUG_STUB_LVM_DIR: join(dir, 'lvm') }, extendEnv: false });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
};
const pve = pveVolumeSnapshots(perlExec);

describe('the storage snapshot program (real perl, stand-in module)', () => {
  it('passes op, volume id and snapshot name after "--", never inside the program', () => {
    const args = pveSnapshotArgs('snapshot', 'usb-thin:vm-100-usb', 'before');
    expect(args.slice(2)).toEqual(['--', 'snapshot', 'usb-thin:vm-100-usb', 'before', '0']);
    expect(args[1]).not.toContain('vm-100-usb');
    expect(pveSnapshotArgs('feature', 'x:y', undefined, true).slice(2)).toEqual(['--', 'feature', 'x:y', '', '1']);
  });

  it('parses only its own lines; no "done" means it failed', () => {
    expect(parsePveSnapshotOutput('noise\nPVUG\ttype\trbd\nPVUG\tsnap\ta\nPVUG\tdone\n')).toEqual({ type: 'rbd', snapshots: ['a'], done: true });
    expect(parsePveSnapshotOutput('PVUG\ttype\tlvm\nPVUG\tunlisted\nPVUG\tdone\n')).toEqual({ type: 'lvm', done: true });
  });

  it("asks the plugin: lvmthin can snapshot a raw volume, thick lvm and raw on dir cannot", async () => {
    expect(await pve.capability('usb-thin:vm-100-usb', false)).toEqual({ type: 'lvmthin', snapshot: true });
    expect(await pve.capability('usb-lvm:vm-100-usb', true)).toEqual({ type: 'lvm', snapshot: false });
    expect(await pve.capability('local:100/vm-100-usb.raw', false)).toEqual({ type: 'dir', snapshot: false });
  });

  it('snapshot, rollback, delete; lvmthin snapshots are not listed (LvmThinPlugin has no volume_snapshot_info of its own)', async () => {
    const snapFile = join(dir, 'lvm/thinvg/snap_vm-100-usb_before.img');
    await pve.snapshot('usb-thin:vm-100-usb', 'before');
    expect(readFileSync(snapFile, 'utf8')).toBe('AAAA');
    expect(await pve.list('usb-thin:vm-100-usb')).toBeUndefined();
    writeFileSync(vol, 'BBBB');
    await pve.rollback('usb-thin:vm-100-usb', 'before');
    expect(readFileSync(vol, 'utf8')).toBe('AAAA');
    await pve.remove('usb-thin:vm-100-usb', 'before', false);
    expect(existsSync(snapFile)).toBe(false);
  });

  it("fails with Proxmox's words, naming the volume and the snapshot", async () => {
    const e = await pve.rollback('usb-thin:vm-100-usb', 'nosuch').catch((x: Error & { toLine(): string }) => x);
    expect((e as Error & { toLine(): string }).toLine()).toMatch(/could not roll back volume usb-thin:vm-100-usb \(snapshot nosuch\): lvm rollback error: no snapshot 'nosuch'.*fix: check the storage on this node: pvesm status; pvesm list usb-thin/);
    await expect(pve.snapshot('usb-lvm:vm-100-usb', 'x')).rejects.toThrow(/could not take a storage snapshot of volume usb-lvm:vm-100-usb \(snapshot x\): stub: no snapshots on storage type 'lvm'/);
  });
});
