/** Who already uses an image: the facts the image policies (paths and volumes) compare a LUN with. */

export interface ImageUse {
  /** realpath of the image */
  image: string;
  readonly: boolean;
  /** who uses it, e.g. "VM 101" or "gadget foo" */
  by: string;
}

/** A drive of a VM config whose file is known (host/vm-disks.ts). */
export interface VmDisk {
  vmid: number;
  /** the drive option, e.g. scsi1 */
  key: string;
  /** realpath of the file (or device) the drive names */
  image: string;
  /** a CD drive: QEMU opens it read-only */
  cdrom: boolean;
}
