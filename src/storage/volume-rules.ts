/**
 * The checks a volume id from the notes must pass before anything on the host is touched: the admin
 * allowed its storage, the storage exists and is enabled on this node, its type gives a local device,
 * and the volume is a raw disk image of THIS VM (or an ISO, read-only). Pure: the storage config and the
 * VM config are passed in.
 *
 * Why "this VM's own volumes only": whoever may edit a VM's notes is not root, and the hook exports the
 * volume as root. Proxmox lets a user use another VM's disk only with VM.Config.Disk on that VM
 * (PVE::Storage::check_volume_access); the hook cannot know who wrote the notes, so it allows just what
 * needs no such right: the VM's own volumes, and ISO images (readable by anyone who can see the storage).
 */
import { ImagePolicyError } from '../errors.js';
import { shown } from '../notes/shown.js';
import { driveVolume, isDriveKey } from '../proxmox/drives.js';
import { availableOn, type StorageConfig } from './storage-config.js';
import { formatVolumeId, parseVolumeId, type VolumeId } from './volume-id.js';
import { describeVolume, storageSupport, type StorageKind, type VolumeFacts } from './volume-name.js';

export interface VolumePlan {
  volid: string;
  id: VolumeId;
  /** storage plugin type: lvm, zfspool, rbd, dir, nfs, ... */
  type: string;
  kind: StorageKind;
  /** same volume on every node the storage is available on */
  shared: boolean;
  /** nodes the storage is restricted to (undefined = all) */
  nodes?: string[];
  /** the storage's directory (storage.cfg `path`) for directory-like storages */
  root?: string;
  facts: VolumeFacts;
}

export interface VolumeRequest {
  /** notes key for messages, e.g. usb-gadget.lun1.image */
  key: string;
  /** the notes value */
  image: string;
  vmid: number;
  readonly: boolean;
  /** this node's name */
  node: string;
  /** settings [images] allowed_storages */
  allowedStorages: readonly string[];
  storages: StorageConfig;
  /** the VM's config options (drive lines are checked), if known */
  vmConfig?: Readonly<Record<string, string>>;
}

/** A volume the rules refuse; `why` is the rule alone, for callers that name the volume their own way. */
export class VolumeRefusedError extends ImagePolicyError {
  readonly why: string;
  constructor(volid: string, why: string, details: { key: string; fix: string }) {
    super(`volume ${volid} refused: ${why}`, details);
    this.why = why;
  }
}

export function planVolume(req: VolumeRequest): VolumePlan {
  const { key } = req;
  const parsed = parseVolumeId(req.image);
  if (!parsed.ok) throw new ImagePolicyError(`image ${shown(req.image)} ${parsed.message}`, { key, fix: 'fix image in the notes' });
  const id = parsed.value;
  const volid = formatVolumeId(id);
  const refuse = (why: string, fix: string): never => {
    throw new VolumeRefusedError(volid, why, { key, fix });
  };
  // before anything else: a storage the admin did not list is never looked at
  if (!req.allowedStorages.includes(id.storage)) {
    refuse(
      `storage '${id.storage}' is not in [images] allowed_storages (${req.allowedStorages.join(', ') || 'none listed'})`,
      'use a storage the admin allowed, or ask the admin to add it to allowed_storages in the settings of every node',
    );
  }
  const def = req.storages.get(id.storage);
  if (!def) return refuse(`storage '${id.storage}' does not exist (not in /etc/pve/storage.cfg)`, 'check the storage id (Datacenter > Storage)');
  if (!availableOn(def, req.node)) {
    refuse(
      def.disabled ? `storage '${id.storage}' is disabled` : `storage '${id.storage}' is not available on node '${req.node}' (nodes ${def.nodes?.join(', ')})`,
      'start the VM on a node where the storage is enabled, or enable it there',
    );
  }
  const support = storageSupport(def.type);
  if (!support.supported) return refuse(`storage '${id.storage}' (${def.type}) cannot back a USB stick: ${support.reason}`, 'use a volume on a dir, NFS, CIFS, LVM, LVM-thin, ZFS or Ceph RBD storage');
  const described = describeVolume(def.type, id.volname);
  if (!described.ok) return refuse(`'${id.volname}' ${described.message}`, 'use the volume id as Proxmox shows it (pvesm list <storage>)');
  const facts = described.value;

  if (facts.vtype === 'other') {
    refuse(`it is ${facts.content} content, not a disk or ISO image`, 'use a disk image (vm-<vmid>-...) or an ISO image');
  }
  if (facts.vtype === 'iso' && !req.readonly) {
    refuse('an ISO image is shared by every VM and must not be written', 'set cdrom = true (or readonly = true) for this LUN');
  }
  if (facts.vtype === 'images') {
    if (facts.owner !== req.vmid) {
      refuse(
        `it belongs to VM ${facts.owner}; a VM may only use its own volumes`,
        `allocate one for VM ${req.vmid}, e.g. pvesm alloc ${id.storage} ${req.vmid} vm-${req.vmid}-usb-stick 8G${def.type === 'dir' || def.type === 'nfs' || def.type === 'cifs' ? ' --format raw' : ''}`,
      );
    }
    if (facts.isBase) refuse('it is the base volume of a template, which Proxmox keeps read-only for its linked clones', 'use a volume of the VM itself');
  }
  if (facts.format !== 'raw') {
    refuse(
      facts.format === 'subvol'
        ? 'it is a filesystem subvolume (container storage), not a disk image'
        : `it is a ${facts.format} volume; only raw volumes can back a USB stick (the gadget serves the bytes as they are, it cannot read ${facts.format})`,
      `convert it to raw (qemu-img convert -O raw ...) or allocate a raw volume${facts.format === 'subvol' ? '' : ` instead of ${facts.format}`}`,
    );
  }
  // an ISO may be the VM's CD drive too (both read-only); a disk may not
  for (const [opt, value] of Object.entries(facts.vtype === 'images' ? (req.vmConfig ?? {}) : {})) {
    if (isDriveKey(opt) && driveVolume(value) === volid) {
      refuse(`it is already the VM's disk ${opt}: QEMU and the USB stick would write it at the same time`, 'give the USB stick its own volume');
    }
  }
  const root = support.kind === 'file' ? def.props.path : undefined;
  return { volid, id, type: def.type, kind: support.kind, shared: def.shared, nodes: def.nodes, root, facts };
}
