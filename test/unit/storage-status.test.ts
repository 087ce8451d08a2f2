// `status` shows where a LUN's volume came from: storage kind, the path Proxmox gave, the exported device.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import { collectStatus, formatStatus } from '../../src/cli/status.js';
import { StateStore, type GadgetRecord } from '../../src/state/record.js';
import { describeLunVolume } from '../../src/storage/describe.js';

const root = mkdtempSync(join(tmpdir(), 'pvug-status-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('status with volume-backed LUNs', () => {
  it('prints the volume, its storage kind and the resolved device; JSON carries the record’s volume', () => {
    const fs = nodeHostFs(root);
    const state = new StateStore(fs, '/run/pve-usb-gadget');
    const rec: GadgetRecord = {
      version: 1, vmid: 100, phase: 'live', node: 'pve1', gadgetDir: '/sys/kernel/config/usb_gadget/pvug-100', udc: 'dummy_udc.0',
      usbId: '0781:5571', serial: 'S1', speed: 'high', createdAt: '2025-01-01T00:00:00.000Z', pid: 1,
      luns: [
        { index: 0, image: '/dev/rbd0', readonly: false, cdrom: false, volume: { volid: 'ceph:vm-100-usb', storage: 'ceph', type: 'rbd', kind: 'rbd', shared: true, state: 'active', path: '/dev/rbd-pve/f00d/vms/vm-100-usb', device: '/dev/rbd0', rbd: { id: 0, pool: 'vms', namespace: '', image: 'vm-100-usb', snapshot: '-' } } },
        { index: 1, image: '/var/lib/vz/template/iso/t.iso', readonly: true, cdrom: true, volume: { volid: 'local:iso/t.iso', storage: 'local', type: 'dir', kind: 'file', shared: false, state: 'active', path: '/var/lib/vz/template/iso/t.iso', device: '/var/lib/vz/template/iso/t.iso' } },
        { index: 2, image: '/var/lib/vz/usb-gadget/x.img', readonly: false, cdrom: false },
      ],
    };
    state.write(rec);
    const list = collectStatus(fs, state);
    expect(list[0]?.luns[0]?.volume?.device).toBe('/dev/rbd0');
    const lines = formatStatus(list);
    expect(lines).toContain('  lun0: ceph:vm-100-usb (Ceph RBD, shared) -> /dev/rbd-pve/f00d/vms/vm-100-usb = /dev/rbd0');
    expect(lines).toContain('  lun1: local:iso/t.iso (directory, local) -> /var/lib/vz/template/iso/t.iso (cdrom)');
    expect(lines).toContain('  lun2: /var/lib/vz/usb-gadget/x.img');
  });

  it('says when a volume is still being activated', () => {
    expect(describeLunVolume({ volid: 'san:vm-1-a', storage: 'san', type: 'lvm', kind: 'block', shared: true, state: 'activating' })).toBe('san:vm-1-a (LVM, shared), being activated');
  });

  it('shows the unRAID GUID of each stick, in the table and in JSON', () => {
    const r2 = mkdtempSync(join(tmpdir(), 'pvug-status-guid-'));
    try {
      const fs = nodeHostFs(r2);
      const state = new StateStore(fs, '/run/pve-usb-gadget');
      state.write({
        version: 1, vmid: 200, phase: 'live', node: 'pve1', gadgetDir: '/sys/kernel/config/usb_gadget/pvug-200', udc: 'dummy_udc.1',
        usbId: '0781:5571', serial: '4C530001230101111111', speed: 'super', createdAt: '2025-01-01T00:00:00.000Z', pid: 1, luns: [],
      });
      const list = collectStatus(fs, state);
      expect(list[0]?.guid).toBe('0781-5571-0001-230101111111');
      expect(JSON.parse(JSON.stringify(list))[0].guid).toBe('0781-5571-0001-230101111111');
      expect(formatStatus(list)[0]).toContain('serial 4C530001230101111111 GUID 0781-5571-0001-230101111111 super speed');
    } finally {
      rmSync(r2, { recursive: true, force: true });
    }
  });
});
