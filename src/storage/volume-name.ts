/**
 * What a volume name means on each storage type: content type, owning VM, format. Written after the
 * volume name grammars of pve-storage's plugins (`parse_volname` in PVE/Storage/Plugin.pm for the
 * directory-like types, LVMPlugin, LvmThinPlugin, ZFSPoolPlugin, RBDPlugin), so the owner and format
 * we check are the ones Proxmox itself would see. The Perl side checks the format again before it
 * activates anything (pve-lib.ts).
 */

/** How the hook gets a local file or block device for a volume of this storage type. */
export type StorageKind = 'file' | 'block' | 'rbd';

export type StorageSupport = { supported: true; kind: StorageKind } | { supported: false; reason: string };

export interface VolumeFacts {
  /** 'images' (a VM disk), 'iso', or another content type (backups, templates, snippets, ...) */
  vtype: 'images' | 'iso' | 'other';
  /** the content type as Proxmox names it, for messages */
  content: string;
  /** the VM the volume belongs to (Proxmox's owner), if any */
  owner?: number;
  /** a template's base volume */
  isBase: boolean;
  /** raw, qcow2, vmdk, subvol (or unknown for other content) */
  format: string;
}

export type ParsedVolumeName = { ok: true; value: VolumeFacts } | { ok: false; message: string };

const DIR_TYPES = ['dir', 'nfs', 'cifs', 'cephfs', 'btrfs'];
export const SUPPORTED_TYPES = [...DIR_TYPES, 'lvm', 'lvmthin', 'zfspool', 'rbd'] as const;

const NETWORK_ONLY = 'QEMU reaches its volumes over the network itself, so there is no local file or block device to export';

export function storageSupport(type: string): StorageSupport {
  if (DIR_TYPES.includes(type)) return { supported: true, kind: 'file' };
  if (type === 'lvm' || type === 'lvmthin' || type === 'zfspool') return { supported: true, kind: 'block' };
  if (type === 'rbd') return { supported: true, kind: 'rbd' };
  const reasons: Record<string, string> = {
    iscsi: 'its LUNs belong to no VM, so any VM could name any LUN; put an LVM storage on the LUN and use a volume of that',
    iscsidirect: NETWORK_ONLY,
    zfs: `ZFS over iSCSI: ${NETWORK_ONLY}`,
    glusterfs: NETWORK_ONLY,
    pbs: 'it holds backups, not disk images',
    esxi: 'it is an import source, not a place for disk images',
  };
  return {
    supported: false,
    reason: reasons[type] ?? `type '${type}' is not one of the supported storage types (${SUPPORTED_TYPES.join(', ')})`,
  };
}

const images = (owner: number, name: string, format: string, isBase: boolean): ParsedVolumeName => ({
  ok: true,
  value: { vtype: 'images', content: 'images', owner, isBase, format },
});

/** A disk file name on a directory-like storage: vm-100-disk-0.raw, base-100-disk-0.qcow2, stick.raw. */
const DIR_DISK = /^(?:(vm|base|subvol)-\d+-[^/\s]+|[^/\s]+)\.(raw|qcow2|vmdk|subvol)$/;
const LVM_NAME = /^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/i;

function dirVolume(volname: string): ParsedVolumeName {
  let m = /^(\d+)\/([^/]+)\/(\d+)\/([^/]+)$/.exec(volname);
  if (m) {
    // linked clone: <base vmid>/<base name>/<vmid>/<name>; the clone belongs to <vmid>
    const [, , base = '', owner = '', name = ''] = m;
    const b = DIR_DISK.exec(base);
    const d = DIR_DISK.exec(name);
    if (b && d) return images(Number(owner), name, d[2] ?? '', name.startsWith('base-'));
  }
  m = /^(\d+)\/([^/]+)$/.exec(volname);
  if (m) {
    const [, owner = '', name = ''] = m;
    const d = DIR_DISK.exec(name);
    if (d) return images(Number(owner), name, d[2] ?? '', name.startsWith('base-'));
    return { ok: false, message: `'${name}' is not a disk image name (it must end in .raw, .qcow2 or .vmdk)` };
  }
  if (/^iso\/[^/]+\.(?:iso|img)$/i.test(volname)) {
    return { ok: true, value: { vtype: 'iso', content: 'iso', isBase: false, format: 'raw' } };
  }
  const content = /^(vztmpl|backup|snippets|import|template|dump|private)\//.exec(volname)?.[1];
  if (content) return { ok: true, value: { vtype: 'other', content, isBase: false, format: 'unknown' } };
  return {
    ok: false,
    message: 'is not a volume name of a directory storage (<vmid>/<file>.raw for disk images, iso/<file>.iso for ISO images)',
  };
}

/** Volume facts for a volume name on a storage of `type` (which storageSupport must accept). */
export function describeVolume(type: string, volname: string): ParsedVolumeName {
  if (DIR_TYPES.includes(type)) return dirVolume(volname);
  let m: RegExpExecArray | null;
  switch (type) {
    case 'lvm':
      if (LVM_NAME.test(volname) && (m = /^vm-(\d+)-\S+$/.exec(volname))) {
        return images(Number(m[1]), volname, volname.endsWith('.qcow2') ? 'qcow2' : 'raw', false);
      }
      return { ok: false, message: 'is not a volume name of an LVM storage (vm-<vmid>-<name>)' };
    case 'lvmthin':
      if (LVM_NAME.test(volname) && (m = /^(vm|base)-(\d+)-\S+$/.exec(volname))) {
        return images(Number(m[2]), volname, 'raw', m[1] === 'base');
      }
      return { ok: false, message: 'is not a volume name of an LVM-thin storage (vm-<vmid>-<name>)' };
    case 'zfspool':
      if ((m = /^(?:(?:base|basevol)-\d+-[^/\s]+\/)?(base|basevol|vm|subvol)-(\d+)-\S+$/.exec(volname))) {
        const kind = m[1] ?? '';
        return images(Number(m[2]), volname, kind === 'subvol' || kind === 'basevol' ? 'subvol' : 'raw', kind.startsWith('base'));
      }
      return { ok: false, message: 'is not a volume name of a ZFS storage (vm-<vmid>-<name>)' };
    case 'rbd':
      if ((m = /^(?:base-\d+-[^/\s]+\/)?(base|vm)?-(\d+)-\S+$/.exec(volname))) {
        return images(Number(m[2]), volname, 'raw', m[1] === 'base');
      }
      return { ok: false, message: 'is not a volume name of a Ceph RBD storage (vm-<vmid>-<name>)' };
    default:
      return { ok: false, message: `storage type '${type}' is not supported` };
  }
}
