/**
 * Kernel RBD devices through sysfs (torvalds/linux Documentation/ABI/testing/sysfs-bus-rbd): each
 * mapped image is /sys/bus/rbd/devices/<id>/ with `pool`, `pool_ns`, `name`, `current_snap` and
 * `cluster_fsid`, and /dev/rbd<id> is its block device. Unmapping is a write of "<id>" to
 * /sys/bus/rbd/remove_single_major (or `remove` when the module runs without single_major), which is
 * what `rbd unmap` does too; unlike `rbd unmap` or PVE's unmap_volume it needs no Ceph monitor, so
 * post-stop still cleans up while the Ceph cluster is unreachable.
 *
 * Ids are reused after an unmap: before removing one, the device's pool, namespace, image and cluster
 * are compared with what pre-start recorded, so another image that got the same id is never touched.
 */
import type { HostFs } from '../ports/host-fs.js';
import { KernelError, errnoOf } from '../errors.js';

export const RBD_BUS = '/sys/bus/rbd';

export interface RbdDevice {
  /** the N of /dev/rbdN and /sys/bus/rbd/devices/N */
  id: number;
  pool: string;
  /** RADOS namespace, "" for none */
  namespace: string;
  image: string;
  /** "-" when the head of the image is mapped (not a snapshot) */
  snapshot: string;
  /** Ceph cluster fsid, when the kernel shows it */
  clusterFsid?: string;
}

const read = (fs: HostFs, p: string) => fs.readTextIfExists(p)?.trim();

export function readRbdDevice(fs: HostFs, id: number): RbdDevice | undefined {
  const dir = `${RBD_BUS}/devices/${id}`;
  const pool = read(fs, `${dir}/pool`);
  const image = read(fs, `${dir}/name`);
  if (pool === undefined || image === undefined) return undefined;
  return {
    id,
    pool,
    namespace: read(fs, `${dir}/pool_ns`) ?? '',
    image,
    snapshot: read(fs, `${dir}/current_snap`) ?? '-',
    clusterFsid: read(fs, `${dir}/cluster_fsid`) || undefined,
  };
}

/** Every mapped RBD image on this host. */
export function listRbdDevices(fs: HostFs): RbdDevice[] {
  return fs
    .list(`${RBD_BUS}/devices`)
    .filter((n) => /^\d{1,6}$/.test(n))
    .map((n) => readRbdDevice(fs, Number(n)))
    .filter((d): d is RbdDevice => d !== undefined);
}

/** The mapped device behind a path such as /dev/rbd-pve/<fsid>/<pool>/<image> (→ /dev/rbdN). */
export function rbdDeviceOfPath(fs: HostFs, path: string): RbdDevice | undefined {
  let real: string;
  try {
    real = fs.realpath(path);
  } catch {
    return undefined;
  }
  const m = /^\/dev\/rbd(\d{1,6})$/.exec(real);
  return m ? readRbdDevice(fs, Number(m[1])) : undefined;
}

export const sameRbdImage = (a: RbdDevice, b: RbdDevice): boolean =>
  a.pool === b.pool &&
  a.namespace === b.namespace &&
  a.image === b.image &&
  a.snapshot === b.snapshot &&
  (a.clusterFsid === undefined || b.clusterFsid === undefined || a.clusterFsid === b.clusterFsid);

export type UnmapResult = 'unmapped' | 'gone' | 'replaced';

/** Unmaps the recorded device if it is still that image; idempotent ('gone' when already unmapped). */
export function unmapRbd(fs: HostFs, recorded: RbdDevice): UnmapResult {
  const now = readRbdDevice(fs, recorded.id);
  if (!now) return 'gone';
  if (!sameRbdImage(now, recorded)) return 'replaced';
  const file = fs.exists(`${RBD_BUS}/remove_single_major`) ? `${RBD_BUS}/remove_single_major` : `${RBD_BUS}/remove`;
  try {
    fs.write(file, String(recorded.id));
  } catch (err) {
    const errno = errnoOf(err);
    if (errno === 'ENOENT') return 'gone';
    throw new KernelError(`cannot unmap /dev/rbd${recorded.id} (${recorded.pool}/${recorded.namespace ? `${recorded.namespace}/` : ''}${recorded.image})`, {
      path: file,
      errno,
      fix: errno === 'EBUSY' ? 'something still has the device open (see: fuser -vm /dev/rbd' + recorded.id + '); close it, then: pve-usb-gadget down <vmid>' : 'unmap it by hand: rbd unmap /dev/rbd' + recorded.id,
    });
  }
  return 'unmapped';
}
