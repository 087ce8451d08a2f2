/**
 * What the snapshot commands act through, passed in so they stay testable with a temp root and fakes.
 * `qm` is the node's own tool as root (cli/qm.ts qmTool satisfies SnapshotVm): qemu-server takes the
 * VM snapshot itself, with its locks, disks, vmstate and replication rules; we never rewrite its config.
 */
import type { HostFs } from '../ports/host-fs.js';
import type { Cloner } from '../backup/capture.js';
import type { Clock } from '../ports/clock.js';
import type { Settings } from '../settings/types.js';
import type { StateStore } from '../state/record.js';

export interface VmRunState {
  running: boolean;
  /** QMP status of a running guest (`qm status --verbose`): running, paused, prelaunch, suspended, ... */
  qmpStatus?: string;
}

export interface SnapshotVm {
  status(vmid: number): Promise<VmRunState>;
  /** `qm suspend <vmid>` (no --skiplock: no lock of ours is held, a vzdump's lock refuses it) */
  suspend(vmid: number): Promise<void>;
  resume(vmid: number): Promise<void>;
  snapshot(vmid: number, name: string, opts: { description?: string; vmstate?: boolean }): Promise<void>;
  rollback(vmid: number, name: string): Promise<void>;
  delsnapshot(vmid: number, name: string, opts: { force?: boolean }): Promise<void>;
}

/**
 * Storage snapshots of volume LUNs, through PVE::Storage (storage/pve-snapshot.ts pveVolumeSnapshots):
 * the same calls qemu-server makes for the VM's own disks.
 */
export interface VolumeSnapshots {
  /** volume_has_feature(snapshot) for this volume, and its storage type */
  capability(volid: string, running: boolean): Promise<{ type: string; snapshot: boolean }>;
  snapshot(volid: string, snap: string): Promise<void>;
  rollback(volid: string, snap: string): Promise<void>;
  remove(volid: string, snap: string, running: boolean): Promise<void>;
  /** the volume's snapshot names, or undefined where the storage cannot list them */
  list(volid: string): Promise<string[] | undefined>;
}

export interface SnapshotDeps {
  fs: HostFs;
  settings: Settings;
  qm: SnapshotVm;
  volumes: VolumeSnapshots;
  state: StateStore;
  cloner: Cloner;
  clock: Clock;
  print(line: string): void;
  pid: number;
}

/** A guest someone else paused (vzdump, an admin): we copy and leave it so. */
export const isPausedState = (s: VmRunState): boolean => s.running && /^(?:paused|prelaunch|suspended)$/.test(s.qmpStatus ?? '');
