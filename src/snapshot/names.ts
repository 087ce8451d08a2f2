/**
 * Where the stick snapshot of a FILE image lives: beside the image, on its filesystem, so a reflink
 * clone works and shared storage (NFS, CephFS) carries it with the image to every node:
 *
 *   <image dir>/.pve-usb-gadget-snapshots/<vmid>/<name>/lun<N>.raw             the LUN's bytes
 *   <image dir>/.pve-usb-gadget-snapshots/<vmid>/<name>/lun<N>.raw.part-<pid>  a copy in progress
 *   <image dir>/.pve-usb-gadget-snapshots/<vmid>/<name>/manifest.json          written last: "complete"
 *
 * A stick whose LUNs lie in several directories has one such folder in each, each manifest naming
 * the LUNs it holds and every LUN of the snapshot. `<vmid>` is an integer and `<name>` passed
 * parseSnapshotName (letters, digits, - and _), so neither can leave the folder. The image policy
 * refuses every path with a SNAPSHOT_STORE segment (host/image-policy.ts): a stick snapshot is never
 * served, restored into or inserted as an image.
 */
import * as path from 'node:path';

export const SNAPSHOT_STORE = '.pve-usb-gadget-snapshots';
/**
 * The root whose store holds the manifests of volume LUNs' storage snapshots (the snapshot itself is
 * the storage's: nothing of its bytes lies here). Node-local, root's, like the kernel records.
 */
export const VOLUME_SNAPSHOT_ROOT = '/var/lib/pve-usb-gadget';
export const MANIFEST_FILE = 'manifest.json';

export const lunFile = (index: number): string => `lun${index}.raw`;
export const lunPartFile = (index: number, pid: number): string => `${lunFile(index)}.part-${pid}`;

/** Every name we ever write into a snapshot folder; removal touches nothing else. */
export const OUR_FILE = /^(?:manifest\.json(?:\.[1-9][0-9]*\.tmp)?|lun(?:[0-9]|1[0-5])\.raw(?:\.part-[1-9][0-9]*)?)$/;

export const storeDir = (imageDir: string): string => `${imageDir}/${SNAPSHOT_STORE}`;
export const vmStoreDir = (imageDir: string, vmid: number): string => `${storeDir(imageDir)}/${vmid}`;
export const snapshotFolder = (imageDir: string, vmid: number, name: string): string => `${vmStoreDir(imageDir, vmid)}/${name}`;

/** A realpath inside some stick snapshot store. */
export const inSnapshotStore = (real: string): boolean => real.split('/').includes(SNAPSHOT_STORE);

/** The temporary files a rollback writes beside the image (dot names, same directory, so rename is atomic). */
export function rollbackTemp(image: string, pid: number): string {
  return `${path.posix.dirname(image)}/.${path.posix.basename(image)}.pvug-rollback-${pid}`;
}
export function rollbackKeep(image: string, pid: number): string {
  return `${path.posix.dirname(image)}/.${path.posix.basename(image)}.pvug-rollback-old-${pid}`;
}
