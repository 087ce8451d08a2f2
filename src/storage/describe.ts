/** One-line descriptions of storage-backed LUNs for `status` and logs. */
import type { LunVolume } from './resolve.js';

const KIND_NAMES: Record<string, string> = {
  dir: 'directory',
  nfs: 'NFS',
  cifs: 'CIFS/SMB',
  cephfs: 'CephFS',
  btrfs: 'BTRFS',
  lvm: 'LVM',
  lvmthin: 'LVM-thin',
  zfspool: 'ZFS',
  rbd: 'Ceph RBD',
};

/** "local-lvm:vm-100-usb (LVM-thin, local) -> /dev/pve/vm-100-usb = /dev/dm-7" */
export function describeLunVolume(v: LunVolume): string {
  const kind = `${KIND_NAMES[v.type] ?? v.type}, ${v.shared ? 'shared' : 'local'}`;
  if (v.state !== 'active') return `${v.volid} (${kind}), being activated`;
  const device = v.device && v.device !== v.path ? ` = ${v.device}` : '';
  return `${v.volid} (${kind}) -> ${v.path ?? '?'}${device}`;
}
