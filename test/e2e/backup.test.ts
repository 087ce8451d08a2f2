/**
 * The stick in vzdump backups on a real kernel (test/e2e/guest/scenarios-backup.ts): the hook installed
 * as install.sh installs it, run by the vzdump stand-in with vzdump's environment, while a nested Linux
 * guest writes to the stick; restore to a new vmid, stop-mode backups with prune, a failing copy; a
 * stick on an LVM volume (loop device) backed up in snapshot mode and restored onto its volume; a stick
 * on an LVM-thin volume snapshotted (a storage snapshot), rolled back and its snapshot deleted.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClean as expectNoGadget, runScenarioGroup, type GroupRun } from './harness/scenarios.js';

/** Nothing of ours is left but the last backup's outcome per VM, which doctor reports (backup-last-<vmid>.json). */
function expectClean(state: any, e: typeof expect): void {
  const rest = state.stateFiles.filter((n: string) => !/^backup-last-\d+\.json$/.test(n));
  expectNoGadget({ ...state, stateFiles: rest }, e);
}

const T = (h: number) => `2026_12_06-${String(h).padStart(2, '0')}_00_00`;

describe('backups of the stick on a real kernel', () => {
  let g: GroupRun;
  const f = () => g.facts.backupScenarios;
  beforeAll(async () => {
    // three nested Linux boots and a volume scenario: ~16 min in CI on the 2-core machine; the VM gets
    // 28 of the hook timeout's 30 min
    g = await runScenarioGroup('backup', 1_680_000);
    // the figures for whoever runs this: how the copies were taken and how long the guest was paused
    for (const k of ['snapshot', 'stop2', 'failed', 'volSnapshot', 'volStopMode']) console.log(`${k}: ${String(g.facts.backupScenarios?.[k]?.taskLog ?? '').split('\n').filter((l) => /pvug|usb-gadget|stick/i.test(l)).join('\n')}`);
  });

  it('ran, with the hook installed as vzdump.conf script', () => {
    expect(g.run.exitCode, g.run.output).toBe(0);
    expect(f().crashed).toBeUndefined();
    expect(f().install.code, f().install.stderr).toBe(0);
    expect(f().vzdumpConf).toMatch(/^script: \/usr\/local\/lib\/pve-usb-gadget\/vzdump-hook$/m);
  });

  describe('snapshot mode while the guest writes', () => {
    it('the guest runs and writes before the backup', () => {
      expect(f().start720.started, f().start720.error ?? f().boot720.serial).toBe(true);
      expect(f().gen1.rc).toBe(0);
      expect(Number(f().writtenBefore.out)).toBeGreaterThanOrEqual(20);
    });
    it('the backup task is green and the task log says how the copy was taken', () => {
      const s = f().snapshot;
      expect(s.tasks, s.taskLog).toEqual([expect.objectContaining({ vmid: 720, state: 'ok', mode: 'snapshot' })]);
      expect(s.taskLog).toMatch(/pause/i);
      const list = JSON.parse(f().list720.stdout);
      expect(list).toHaveLength(1);
      expect(list[0].manifest).toMatchObject({ method: 'pause', usb: { serial: 'PVUGBACKUP0000720' } });
      expect(list[0].time).toBe(T(10));
    });
    it('the guest went on writing after the backup', () => {
      expect(Number(f().writtenAfter.out.trim().split('\n').at(-1))).toBeGreaterThan(Number(f().writtenRightAfter.out));
      expect(f().stop720.map((h: any) => h.code)).toEqual([0, 0]);
    });
  });

  describe('restore as a new VM (the original gone)', () => {
    it('restore writes the copy back over what the guest wrote after the backup', () => {
      expect(f().imageBeforeRestore).toBe('GEN3-HEAD');
      expect(f().restore.code, f().restore.stderr).toBe(0);
      expect(f().imageAfterRestore).toBe('GEN1-HEAD');
    });
    it('the restored stick is one point in time: an unbroken run of records, none after a gap, fewer than written', () => {
      const written = Number(f().writtenAfter.out.trim().split('\n').at(-1));
      expect(f().records.afterGap).toBe(0);
      expect(f().records.run).toBeGreaterThanOrEqual(Number(f().writtenBefore.out));
      expect(f().records.run).toBeLessThan(written);
    });
    it("the new VM's guest reads what was written before the backup", () => {
      expect(f().start721.started, f().start721.error ?? f().boot721Serial).toBe(true);
      expect(f().guestReads.out).toBe('GEN1-HEAD\nGEN2-000000');
      expect(f().stop721.map((h: any) => h.code)).toEqual([0, 0]);
      expectClean(f().afterRestore, expect);
    });
  });

  describe('stop mode of a stopped VM, and prune', () => {
    it('both backups are green; the copy is taken offline by pre-start under lock: backup', () => {
      for (const s of [f().stop1, f().stop2]) expect(s.tasks, s.taskLog).toEqual([expect.objectContaining({ vmid: 721, state: 'ok', mode: 'stop' })]);
      const list = JSON.parse(f().list721.stdout);
      expect(list.map((b: any) => b.time)).toEqual([T(12)]);
      expect(list[0].manifest.method).toBe('offline');
      expectClean(f().afterStopMode, expect);
    });
    it('keep-last 1 pruned the older archive and our files with it', () => {
      expect(f().dumpFiles.filter((n: string) => n.includes(`721-${T(11)}`))).toEqual([]);
      expect(f().dumpFiles).toContain(`vzdump-qemu-721-${T(12)}.usb-gadget.json`);
      expect(f().dumpFiles).toContain(`vzdump-qemu-721-${T(12)}.usb-gadget-lun0.raw`);
    });
  });

  describe('snapshot, rollback, delsnapshot', () => {
    it('snapshot copies the stopped stick beside its image and qm writes the [before] section', () => {
      expect(f().snapBefore.code, f().snapBefore.stderr).toBe(0);
      expect(f().snapFiles).toEqual(['lun0.raw', 'manifest.json']);
      expect(JSON.parse(f().snapManifest)).toMatchObject({ method: 'offline' });
      expect(f().confWithSnap).toMatch(/^parent: before$/m);
      expect(f().confWithSnap).toMatch(/^\[before\]$/m);
    });
    it('a second snapshot of one name and names Proxmox refuses are refused', () => {
      expect(f().snapAgain.code).toBe(1);
      expect(f().snapAgain.stderr).toMatch(/already has a snapshot named before/);
      expect(f().snapBadName.code).toBe(2);
      expect(f().snapCurrent.code).toBe(2);
    });
    it('rollback brings the stick back to the snapshot and leaves no temp file', () => {
      expect(f().imageChanged).toBe('CHANGED!!');
      expect(f().rollback.code, f().rollback.stderr).toBe(0);
      expect(f().imageRolledBack).toBe('GEN1-HEAD');
      expect(f().rollbackLeftovers).toEqual([]);
    });
    it('delsnapshot removes both the VM snapshot and the stick snapshot', () => {
      expect(f().delsnap.code, f().delsnap.stderr).toBe(0);
      expect(f().confAfterDel).not.toMatch(/^\[before\]$/m);
      expect(f().snapsDirAfter).toBe(false);
    });
    it('a snapshot of the running VM pauses the guest for the copy', () => {
      expect(f().liveSnap.code, f().liveSnap.stderr).toBe(0);
      expect(f().liveSnap.stdout).toMatch(/paused \d+ ms/);
      expect(f().liveDel.code, f().liveDel.stderr).toBe(0);
    });
  });

  describe('a copy that fails', () => {
    it('leaves the backup green and says loudly that the stick was not saved', () => {
      expect(f().failStart.started).toBe(true);
      expect(f().failed.tasks, f().failed.taskLog).toEqual([expect.objectContaining({ vmid: 721, state: 'ok' })]);
      expect(f().failed.taskLog).toMatch(/not saved/i);
      expect(f().failFiles).toContain(`vzdump-qemu-721-${T(13)}.vma.zst`);
      expect(f().failFiles.filter((n: string) => n.includes('.usb-gadget'))).toEqual([]);
      expectClean(f().afterFail, expect);
    });
  });

  describe('a stick on an LVM volume (loop device): snapshot-mode backup, restore onto the volume', () => {
    it('the guest runs from the volume and writes to it', () => {
      expect(f().start730.started, f().start730.error ?? f().boot730.serial).toBe(true);
      expect(f().vol1.rc).toBe(0);
    });
    it('the backup copies the device the live stick serves, pausing the guest (no reflink for a device)', () => {
      const s = f().volSnapshot;
      expect(s.tasks, s.taskLog).toEqual([expect.objectContaining({ vmid: 730, state: 'ok', mode: 'snapshot' })]);
      expect(s.taskLog).toMatch(/LUN 0 is the Proxmox volume usb-lvm:vm-730-usb: copied from \/dev\/loop\d+, the device the live stick serves/);
      expect(s.taskLog).toMatch(/cannot be reflinked, so the guest is paused for the copy/);
      const list = JSON.parse(f().list730.stdout);
      expect(list.map((b: any) => b.time)).toEqual([T(14), T(15)]);
      expect(list[0].manifest).toMatchObject({ method: 'pause', luns: [{ index: 0, image: 'usb-lvm:vm-730-usb', source: expect.stringMatching(/^\/dev\/loop\d+$/), size: 16 * 1024 * 1024 }] });
      expect(f().stop730.map((h: any) => h.code)).toEqual([0, 0]);
    });
    it('a stop-mode backup copies the volume pre-start activated, once the gadget is built, before the guest runs', () => {
      const s = f().volStopMode;
      expect(s.tasks, s.taskLog).toEqual([expect.objectContaining({ vmid: 730, state: 'ok', mode: 'stop' })]);
      expect(JSON.parse(f().list730.stdout)[1].manifest).toMatchObject({ method: 'offline', luns: [{ image: 'usb-lvm:vm-730-usb' }] });
      expect(f().volStopCopy).toBe('VOL3-HEAD');
    });
    it("restore (no --to) writes the copy onto the manifest's volume, byte for byte, and deactivates it", () => {
      expect(f().volBeforeRestore).toBe('VOL3-HEAD');
      expect(f().volRestore.code, f().volRestore.stderr).toBe(0);
      expect(f().volRestore.stdout).toMatch(/to volume usb-lvm:vm-730-usb \(\/dev\/loop\d+\): 16777216 bytes, SHA-256 verified/);
      expect(f().volAfterRestore).toBe('VOL1-HEAD');
      expect(f().volBytes.backing).toBe(f().volBytes.copy);
      expect(f().volLoops).toBe('');
      expectClean(f().afterVolume, expect);
    });
  });

  describe('snapshot, rollback, delsnapshot of a stick on an LVM-thin volume (storage snapshots)', () => {
    it('a thick LVM volume is refused before anything is made: Proxmox cannot snapshot it', () => {
      expect(f().thickRefused.code).toBe(1);
      expect(f().thickRefused.stderr).toMatch(/LUN 0 is volume usb-lvm:vm-730-usb on storage 'usb-lvm' \(type lvm\), which Proxmox cannot snapshot/);
      expect(f().thickConf).not.toMatch(/^\[thick\]$/m);
    });
    it('snapshot of the running VM: a storage snapshot of the same name, the guest not paused, then qm snapshot', () => {
      expect(f().start731.started, f().start731.error ?? f().boot731.serial).toBe(true);
      expect(f().thinA.rc).toBe(0);
      expect(f().thinSnap.code, f().thinSnap.stderr).toBe(0);
      expect(f().thinSnap.stdout).toMatch(/LUN 0 usb-thin:vm-731-usb: storage snapshot before \(lvmthin, atomic: the guest was not paused for it\)/);
      expect(f().thinSnapFile).toBe('THIN-A');
      expect(JSON.parse(f().thinManifest)).toMatchObject({ method: 'storage', allLuns: [0], luns: [], volumes: [{ index: 0, volid: 'usb-thin:vm-731-usb', type: 'lvmthin', snapshot: 'before' }] });
      expect(f().thinB.rc).toBe(0);
      expect(f().stop731.map((h: any) => h.code)).toEqual([0, 0]);
    });
    it('rollback of the stopped VM: the volume reads what it held at the snapshot', () => {
      expect(f().thinBeforeRollback).toBe('THIN-B');
      expect(f().thinRollback.code, f().thinRollback.stderr).toBe(0);
      expect(f().thinRollback.stdout).toMatch(/LUN 0: volume usb-thin:vm-731-usb is back to its storage snapshot before \(lvmthin\)/);
      expect(f().thinAfterRollback).toBe('THIN-A');
    });
    it('delsnapshot removes the VM snapshot, the storage snapshot and its manifest', () => {
      expect(f().thinDel.code, f().thinDel.stderr).toBe(0);
      expect(f().thinSnapGone).toBe(true);
      expect(f().thinConfAfter).not.toMatch(/^\[before\]$/m);
      expect(f().thinLoops).toBe('');
      expectClean(f().afterThin, expect);
    });
  });

  it('uninstall-hook gives vzdump.conf back as it was', () => {
    expect(f().uninstall.code, f().uninstall.stderr).toBe(0);
    expect(f().vzdumpConfAfter).not.toMatch(/pve-usb-gadget/);
  });
});
