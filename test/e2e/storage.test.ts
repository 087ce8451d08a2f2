/**
 * Sticks backed by Proxmox volumes (image = storage:volume) on a real kernel: an LVM volume (a loop
 * device, as the PVE::Storage stand-in activates it) boots the nested guest and is released at stop; a
 * shared-storage stick moves between nodes with one mapping entry per node; refusals leave nothing; and
 * the kernel's rbd sysfs interface the hook unmaps RBD volumes through.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClean, runScenarioGroup, type GroupRun } from './harness/scenarios.js';

describe('volume-backed sticks on a real kernel', () => {
  let g: GroupRun;
  beforeAll(async () => {
    // hook runs take seconds each on an idle machine, a minute when other test VMs share the 2 cores
    g = await runScenarioGroup('storage', 1_200_000);
  });

  it('ran', () => {
    expect(g.run.exitCode, g.run.output).toBe(0);
    expect(g.facts.secretLeaked).toBe(false);
  });

  describe('a stick on an LVM volume (block device)', () => {
    const b = () => g.facts.blockVolume;
    it('pre-start activates the volume and exports the block device behind it', () => {
      expect(b().crashed).toBeUndefined();
      expect(b().pre.code, b().pre.stderr).toBe(0);
      expect(b().pre.stdout).toMatch(/usb-gadget\.image: usb-lvm:vm-600-usb \(lvm\) -> \/dev\/pvugvg\/vm-600-usb -> \/dev\/loop\d+/);
      expect(b().during.lvLink).toMatch(/^\/dev\/loop\d+$/);
      expect(b().during.lunFile).toBe(b().during.lvLink);
      expect(b().during.loops).toContain('/var/lib/pvug-stub-lvm/pvugvg/vm-600-usb.img');
    });
    it('records what it activated, and status shows the storage kind and device', () => {
      const lun = b().during.record.luns[0];
      expect(lun).toMatchObject({ image: b().during.lvLink, volume: { volid: 'usb-lvm:vm-600-usb', type: 'lvm', kind: 'block', shared: false, state: 'active', path: '/dev/pvugvg/vm-600-usb', device: b().during.lvLink, bytes: 8 * 1024 * 1024 } });
      const [s] = b().during.status;
      expect(s).toMatchObject({ vmid: 600, enumerated: true, luns: [{ volume: { type: 'lvm', device: b().during.lvLink } }] });
    });
    it('the nested guest boots from the volume', () => {
      expect(b().boot.found, `${b().boot.serial} ${b().boot.qemuStderr}`).toBe(true);
    });
    it('post-stop removes the gadget, then deactivates the volume', () => {
      expect(b().post.code, b().post.stderr).toBe(0);
      expect(b().post.stdout).toContain('usb-lvm:vm-600-usb: deactivated');
      expectClean(b().after.state, expect);
      expect(b().after.loops).toBe('');
      expect(b().after.lvLinkGone).toBe(true);
      expect(b().after.stub).toEqual(['activate\tusb-lvm:vm-600-usb', 'deactivate\tusb-lvm:vm-600-usb']);
    });
  });

  describe('a stick on shared storage moving between nodes', () => {
    const m = () => g.facts.sharedMigration;
    it('starts on pve from the shared image file', () => {
      expect(m().crashed).toBeUndefined();
      expect(m().preA.code, m().preA.stderr).toBe(0);
      expect(m().lunFile).toBe('/mnt/pve/shared/images/601/vm-601-usb.raw');
      expect(m().recordA.luns[0].volume).toMatchObject({ type: 'dir', kind: 'file', shared: true, device: '/mnt/pve/shared/images/601/vm-601-usb.raw' });
      expect(m().postA.stdout).toContain('shared:601/vm-601-usb.raw: nothing to deactivate');
      expect(m().mapA).toEqual(['node=pve,id=0781:5661']);
    });
    it('starts on pve2 after its config moved there: the mapping gains pve2 next to pve', () => {
      for (const r of [m().preB, m().postB]) expect(r.code, r.stderr).toBe(0);
      expect(m().preB.stdout).toContain('USB mapping usb-gadget-601: updated (pve2 -> 0781:5661)');
      expect(m().mapB).toEqual(['node=pve,id=0781:5661', 'node=pve2,id=0781:5661']);
      expectClean(m().after, expect);
    });
  });

  describe('refused volumes', () => {
    const r = () => g.facts.volumeRefusals;
    it.each([
      ['qcow2', 'it is a qcow2 volume; only raw volumes can back a USB stick', false],
      ['missingVolume', "could not activate volume usb-lvm:vm-605-nothing: volume 'usb-lvm:vm-605-nothing' does not exist", true],
    ] as const)('%s: the start fails with the reason and leaves nothing', (name, message, askedPve) => {
      const c = r()[name];
      expect(r().crashed).toBeUndefined();
      expect(c.start.started).toBe(false);
      expect(c.start.hooks[0].stderr).toContain(message);
      expectClean(c.state, expect);
      expect(c.record).toBeUndefined();
      expect(c.loops).toBe('');
      // the policy refuses before PVE::Storage is ever asked; a missing volume is PVE's own answer, undone
      expect(c.stubCalls).toEqual(askedPve ? [`activate\tusb-lvm:vm-605-nothing`, `deactivate\tusb-lvm:vm-605-nothing`] : []);
    });
  });

  describe('the kernel rbd bus', () => {
    const k = () => g.facts.rbdSysfs;
    it('has the single-major interface and says ENOENT for an id that is not mapped', () => {
      expect(k().crashed).toBeUndefined();
      expect(k().files).toEqual(['add', 'remove', 'add_single_major', 'remove_single_major']);
      expect(k().devices).toBe('');
      expect(k().removeMissing).toBe('ENOENT');
      expect(k().unmapNothing).toBe('gone');
    });
  });
});
