/**
 * Everything a pre-start decision reads from the host and the cluster, gathered in one place and once
 * per decision: outside the host lock (refusals before any effect) and again under it, where another
 * VM's start may have changed the picture meanwhile. decidePreStart (decide.ts) judges from this value
 * alone.
 */
import type { Clock } from '../ports/clock.js';
import type { FileInfo, HostFs } from '../ports/host-fs.js';
import { gadgetUsbIds, type GadgetUsbId } from '../host/conflicts.js';
import { hostUsbDevices, type HostUsbDevice } from '../host/devices.js';
import { imageContext } from '../host/image-facts.js';
import { imagePathFacts, type ImageContext, type ImagePathFacts } from '../host/image-policy.js';
import { udcView, type UdcView } from '../host/udc.js';
import { gadgetDir, gadgetName } from '../plan/ops.js';
import type { Settings } from '../settings/types.js';
import type { GadgetSpec } from '../spec/types.js';
import type { StateStore } from '../state/record.js';
import { volumeFileInfos } from '../storage/resolve.js';
import { looksLikeVolumeId } from '../storage/volume-id.js';

export interface PreStartFacts {
  /** storage.cfg, every VM config's drives, other gadgets' exports, this VM's config (image-facts.ts) */
  images: ImageContext;
  /** each LUN image named by path: its realpath, inode, storage folders (image-policy.ts) */
  paths: ReadonlyMap<string, ImagePathFacts>;
  /** the inodes of file volumes whose file storage.cfg tells (the hard-link check before activation) */
  volumeFiles: ReadonlyMap<string, FileInfo>;
  /** the USB ids other gadgets in configfs show, and the host's USB devices */
  gadgets: readonly GadgetUsbId[];
  devices: readonly HostUsbDevice[];
  /** this VM's gadget directory exists (a leftover of a killed run, before the locked cleanup) */
  ownGadget: boolean;
  /** UDCs in other VMs' state records: their pre-start may be between record and bind */
  reservedUdcs: readonly string[];
  /** the controllers, read only once the modules are loaded and the lock is held (see gather's `udcs`) */
  udcs?: UdcView;
  /** for the record: when, and by which process */
  now: number;
  pid: number;
}

export interface FactsDeps {
  fs: HostFs;
  settings: Settings;
  state: StateStore;
  clock: Pick<Clock, 'now'>;
}

/**
 * Reads the facts; changes nothing. `udcs`: read the controllers too. Only under the lock and after
 * ensureModules does that mean anything (before, dummy_hcd may not be loaded, and any choice could be
 * taken by another start before the bind), so the outside gather leaves them out.
 */
export function gatherPreStartFacts(
  deps: FactsDeps,
  vmid: number,
  spec: GadgetSpec,
  vmConfig: Readonly<Record<string, string>> | undefined,
  opts: { udcs: boolean },
): PreStartFacts {
  const { fs, settings } = deps;
  const images = imageContext(fs, settings, vmid, vmConfig);
  const paths = new Map<string, ImagePathFacts>();
  for (const lun of spec.luns) {
    if (!looksLikeVolumeId(lun.image) && !paths.has(lun.image)) paths.set(lun.image, imagePathFacts(fs, settings, lun.image, images.storages));
  }
  return {
    images,
    paths,
    volumeFiles: volumeFileInfos(fs, images.storages, spec),
    gadgets: gadgetUsbIds(fs, gadgetName(vmid)),
    devices: hostUsbDevices(fs),
    ownGadget: fs.exists(gadgetDir(vmid)),
    reservedUdcs: deps.state.list().filter((r) => r.vmid !== vmid).map((r) => r.udc),
    udcs: opts.udcs ? udcView(fs) : undefined,
    now: deps.clock.now(),
    pid: process.pid,
  };
}
