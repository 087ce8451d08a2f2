import type { HostFs } from '../ports/host-fs.js';
import type { Clock } from '../ports/clock.js';
import type { Exec } from '../ports/exec.js';
import type { HostLock } from '../ports/lock.js';
import type { Settings } from '../settings/types.js';
import type { StateStore } from '../state/record.js';
import type { Logger } from './log.js';
import type { VmSource } from './vm-source.js';
import type { Passthrough } from './passthrough.js';

/** Everything the hook phases touch, passed in so the phases themselves stay testable. */
export interface HookDeps {
  fs: HostFs;
  exec: Exec;
  clock: Clock;
  log: Logger;
  settings: Settings;
  lock: HostLock;
  state: StateStore;
  vms: VmSource;
  /** the Proxmox side of the passthrough; undefined when no API token is configured */
  passthrough?: Passthrough;
  /**
   * Test-only fault injection: called after each pre-start step; the e2e harness makes it SIGKILL the
   * hook at a chosen step (env PVE_USB_GADGET_FAULT). A no-op in production.
   */
  checkpoint(step: PreStartStep): void;
  /**
   * Timing only (PVE_USB_GADGET_TIMING=1, src/hook/timing.ts): moments that are no pre-start step, such
   * as the host lock taken and given back (`lock-acquired`, `lock-released`). Apart from checkpoint so
   * the fault injection's steps keep their meaning; undefined outside the hook.
   */
  mark?(name: string): void;
}

export type PreStartStep = 'validated' | 'cleaned' | 'modules' | 'recorded' | 'quirk' | 'configfs' | 'bound' | 'enumerated' | 'mapping';
