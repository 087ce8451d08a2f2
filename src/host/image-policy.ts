import type { HostFs } from '../apply/host-fs.js';
import { ImagePolicyError, errnoOf } from '../errors.js';
import type { Settings } from '../settings/types.js';
import { blockDeviceBytes } from '../storage/block-device.js';

/** Places that hold the hypervisor's own state: never exported, whatever the allowed dirs say. */
const DENIED = ['/etc', '/root', '/boot', '/proc', '/sys', '/run', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/var/lib/pve-cluster', '/var/lib/pve-manager', '/var/lib/pve-firewall', '/var/log'];

const isUnder = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

export interface ImageUse {
  /** realpath of the image */
  image: string;
  readonly: boolean;
  /** who uses it, e.g. "VM 101" or "gadget foo" */
  by: string;
}

/**
 * Decide whether a notes `image` may be exported, and return its realpath. Notes are written by users
 * who are not root, so the path is resolved first (symlinks, `..`) and only then compared with the
 * directories the admin allowed. Every refusal names the rule.
 */
export function checkImage(
  fs: HostFs,
  settings: Settings,
  key: string,
  image: string,
  readonly: boolean,
  inUse: readonly ImageUse[],
): string {
  let real: string;
  try {
    real = fs.realpath(image);
  } catch (err) {
    const errno = errnoOf(err);
    throw new ImagePolicyError(
      errno === 'ENOENT' ? `image ${image} does not exist` : `image ${image} cannot be resolved`,
      { key, path: image, errno, fix: 'create it (pve-usb-gadget image create) or fix the path in the notes' },
    );
  }
  const deny = (rule: string, fix: string) => {
    throw new ImagePolicyError(`image ${image}${real !== image ? ` (-> ${real})` : ''} refused: ${rule}`, { key, path: real, fix });
  };
  const allowed = settings.images.allowedDirs.map((d) => {
    try {
      return fs.realpath(d);
    } catch {
      return d;
    }
  });
  if (!allowed.some((d) => isUnder(real, d) && real !== d)) {
    deny(`not inside an allowed directory (${settings.images.allowedDirs.join(', ')})`, 'move the image into an allowed directory, or ask the admin to allow its directory in the settings ([images] allowed_dirs)');
  }
  if (DENIED.some((d) => isUnder(real, d))) {
    deny('it is a system location of the hypervisor', 'use an image under an allowed images directory');
  }
  const info = fs.stat(real);
  if (info.kind === 'block') {
    if (!settings.images.allowBlockDevices) deny('block devices are not allowed', 'set [images] allow_block_devices = true for this host if intended');
  } else if (isUnder(real, '/dev')) {
    deny('device nodes are not images', 'use an image file');
  } else if (info.kind !== 'file') {
    deny(`it is a ${info.kind === 'directory' ? 'directory' : 'special file (FIFO, socket or device)'}, not an image`, 'point image at a regular file');
  }
  // stat reports 0 bytes for block devices: their size is in sysfs
  const size = info.kind === 'block' ? (blockDeviceBytes(fs, real) ?? 0) : info.size;
  if (size < 512) deny(`it is ${size} bytes; an image needs at least one 512-byte block`, 'create the image with pve-usb-gadget image create');
  for (const use of inUse) {
    if (use.image !== real) continue;
    if (!readonly || !use.readonly) {
      deny(`it is already exported by ${use.by}${use.readonly ? ' read-only' : ' read-write'}`, 'give each VM its own image, or export it read-only everywhere');
    }
  }
  return real;
}
