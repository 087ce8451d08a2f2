/**
 * The drive options of a qemu-server VM config, in one place: which keys are drives, which volume or
 * path a drive names, and whether it is a CD drive. qemu-server's limits ($MAX_IDE_DISKS & co in
 * PVE/QemuServer/Drive.pm): ide0-3, sata0-5, scsi0-30, virtio0-15, plus efidisk0 and tpmstate0.
 * Used by the image policy (no stick on a VM's disk), the volume rules and the boot order.
 */

/** Drive buses and how many drives each takes, in the order PVE scans them for a boot disk. */
export const DRIVE_BUSES: readonly (readonly [bus: string, count: number])[] = [
  ['ide', 4],
  ['sata', 6],
  ['scsi', 31],
  ['virtio', 16],
];

/**
 * Drive keys: any index on the four buses (qemu-server refuses indexes past the limits above, so none
 * appear; accepting them costs nothing and keeps a hand-edited config's drive a drive), plus the EFI
 * vars disk and the TPM state.
 */
const DRIVE_KEY = /^(?:ide|sata|scsi|virtio)\d+$|^efidisk0$|^tpmstate0$/;

export function isDriveKey(key: string): boolean {
  return DRIVE_KEY.test(key);
}

/**
 * The volume id or path a drive option (scsi0: local-lvm:vm-100-disk-0,size=32G) refers to; undefined
 * for an empty CD drive (`none`, `cdrom`: the host's drive).
 */
export function driveVolume(value: string): string | undefined {
  const first = value.split(',')[0]?.trim() ?? '';
  const volid = first.startsWith('file=') ? first.slice(5) : first;
  return volid === '' || volid === 'none' || volid === 'cdrom' ? undefined : volid;
}

/** A CD drive: QEMU opens its medium read-only. `cdrom` is the legacy key qemu-server maps to ide2. */
export function isCdromDrive(key: string, value: string): boolean {
  return key === 'cdrom' || value.split(',').some((p) => p.trim() === 'media=cdrom');
}
