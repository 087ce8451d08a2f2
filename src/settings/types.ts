import type { Speed } from '../spec/types.js';

/** Host settings, read from an ini file the installer writes (see settings/load.ts). */
export interface Settings {
  /** Proxmox API access; absent when the host was set up without a token (hook then reads local config) */
  api?: {
    /** e.g. https://127.0.0.1:8006 (no /api2/json suffix) */
    url: string;
    /** USER@REALM!TOKENID */
    tokenId: string;
    /** root-only file holding the token secret */
    secretFile: string;
    /** CA to verify the API's TLS certificate against (the cluster CA) */
    caFile: string;
  };
  /** this node's name in the cluster; default: os.hostname() short name */
  node: string;
  images: {
    /** absolute directories images may come from (realpath'd at check time) */
    allowedDirs: string[];
    /** allow block devices under the allowed dirs (e.g. /dev/zvol/...) */
    allowBlockDevices: boolean;
    /**
     * storages whose volumes notes may name as `image = storage:volume` ([images] allowed_storages);
     * absent or empty: none. Their volumes, block devices included, are allowed without allowed_dirs
     * and allow_block_devices (see src/storage/volume-policy.ts).
     */
    allowedStorages?: string[];
  };
  modules: {
    /** dummy_hcd num= (1..32) */
    controllers: number;
    /** keep dummy_hcd & co loaded when the last gadget goes */
    keepLoaded: boolean;
  };
  defaultSpeed: Speed;
  /** how long pre-start waits for the host to enumerate the gadget */
  enumerationTimeoutMs: number;
  /** append VID:PID:i to usb_storage quirks so the hypervisor never claims the disk */
  isolateHostStorage: boolean;
  /** vzdump stick copies (src/backup/); absent = defaults */
  backup?: {
    /** a failed stick copy fails that VM's backup ([backup] fail_on_copy_error); default false */
    failOnCopyError: boolean;
  };
  /** Where things are; overridden only by tests. */
  paths: {
    /** prefix for /sys, /proc-free; "/" on a real host */
    root: string;
    /** state files, default /run/pve-usb-gadget */
    stateDir: string;
    /** where <vmid>.conf lives, default /etc/pve/qemu-server */
    pveConfigDir: string;
  };
}
