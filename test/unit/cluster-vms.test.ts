// The cluster's VM configs as pmxcfs shows them on a node: every node's folder, this node's link, one entry per vmid.
import { afterEach, describe, expect, it } from 'vitest';
import { clusterVms } from '../../src/host/cluster-vms.js';
import { foreignGadgetLines } from '../../src/proxmox/local-config.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

let t: TmpRoot | undefined;
afterEach(() => t?.remove());

describe('clusterVms', () => {
  it('reads every node folder and the configured folder, each vmid once, with its node', () => {
    t = tmpRoot('pvug-cluster-');
    t.put('/etc/pve/nodes/pve1/qemu-server/100.conf', '#notes%3A one\nsmbios1: uuid=3c7b1a57-2f4c-4a7e-9c5e-0f0e1d2c3b4a\n[snap]\ndescription: old\n');
    t.put('/etc/pve/nodes/pve2/qemu-server/200.conf', 'usb0: mapping=usb-gadget-100\n');
    t.put('/etc/pve/nodes/pve2/qemu-server/notes.txt', 'x');
    t.put('/etc/pve/nodes/pve2/lxc/300.conf', 'arch: amd64\n');
    // this node's folder (a link on Proxmox; a copy here): 100 again, not twice
    t.put('/etc/pve/qemu-server/100.conf', '#notes%3A one\n');
    t.put('/etc/pve/qemu-server/101.conf', 'template: 1\n');
    const vms = clusterVms(t.fs, '/etc/pve/qemu-server');
    expect(vms.map((v) => [v.vmid, v.node])).toEqual([[100, 'pve1'], [101, undefined], [200, 'pve2']]);
    expect(vms[0]?.description).toBe('notes: one');
    expect(vms[2]?.options.usb0).toBe('mapping=usb-gadget-100');
  });

  it('is empty without any folder', () => {
    t = tmpRoot('pvug-cluster-');
    expect(clusterVms(t.fs, '/etc/pve/qemu-server')).toEqual([]);
  });
});

describe('foreignGadgetLines', () => {
  it('finds usbN lines naming another VM\'s usb-gadget mapping, and only those', () => {
    expect(foreignGadgetLines({ usb0: 'mapping=usb-gadget-100', usb1: 'mapping=usb-gadget-200', usb2: 'host=1234:5678', usb3: 'mapping=other-100', usb4: 'mapping=usb-gadget-100,usb3=1' }, 200)).toEqual([
      { key: 'usb0', mapping: 'usb-gadget-100', vmid: 100 },
      { key: 'usb4', mapping: 'usb-gadget-100', vmid: 100 },
    ]);
  });
});
