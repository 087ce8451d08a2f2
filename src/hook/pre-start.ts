import { copyAtBackupStart } from '../backup/at-pre-start.js';
import { NotesError } from '../errors.js';
import { waitForEnumeration } from '../host/enumeration.js';
import { ensureModules, unloadIfIdle } from '../host/modules.js';
import { usbId, type GadgetSpec } from '../spec/types.js';
import { guidWarnings } from '../spec/guid-advice.js';
import { validateNotes } from '../spec/validate.js';
import { applyBuild } from './build.js';
import { decidePreStart, type PreStartPlan } from './decide.js';
import { checkOwnIdentity } from './identity-check.js';
import type { HookDeps } from './deps.js';
import { gatherPreStartFacts } from './facts.js';
import type { RecordWriter } from './record-writer.js';
import { isolateAfterEnumeration } from './isolation.js';
import { teardownLocked } from './teardown.js';

/**
 * pre-start: notes → spec → gadget live and enumerated → passthrough mapping in place.
 * The gadget goes facts → decision → apply: the host and cluster facts are gathered (facts.ts) and judged
 * (decide.ts) once before any effect, and again under the host lock with the same two functions, whose
 * plan is then applied (build.ts). Any failure undoes what this run made and rethrows (the caller prints
 * it and exits non-zero, which aborts the VM start).
 */
export async function preStart(deps: HookDeps, vmid: number): Promise<void> {
  const { log } = deps;
  const vm = await deps.vms.read(vmid);

  const result = validateNotes(vm.description, { vmid, smbiosUuid: vm.smbiosUuid, defaultSpeed: deps.settings.defaultSpeed });
  if (result.kind === 'none') {
    log.info('no [usb-gadget] section in the notes: nothing to do');
    await withLock(deps, async () => {
      if ((await teardownLocked(deps, vmid)).removed) log.info('removed a gadget left from an earlier start');
    });
    return;
  }
  if (result.kind === 'invalid') throw new NotesError(result.problems);
  const spec = result.spec;
  for (const w of [...result.warnings, ...guidWarnings(spec, vmid)]) log.warn(w);
  // a GUID another VM of the cluster has, or a usbN line copied from another VM, is refused before any effect
  checkOwnIdentity(deps, vmid, spec, vm.config);
  // policy first, before anything on the host or in the cluster changes: a refused image or a VID:PID in
  // use leaves no trace, not even in the mapping asked for next (both are decided again under the lock)
  decide(deps, vmid, spec, vm.config, false);
  deps.checkpoint('validated');

  // The mapping needs nothing of the gadget: the API works on it while the gadget is built and enumerates
  // (after Node's start-up, the API round trips are the largest share of a pre-start: npm run bench).
  const { passthrough } = deps;
  const mapping = passthrough?.ensure(vmid, usbId(spec));
  // awaited on every path below; this handler keeps an early rejection from counting as unhandled (node exits)
  mapping?.catch(() => undefined);

  let record: RecordWriter;
  try {
    record = await withLock(deps, async () => {
      if ((await teardownLocked(deps, vmid)).removed) log.info('removed a gadget left from an earlier run');
      deps.checkpoint('cleaned');
      try {
        const modules = await ensureModules(deps.fs, deps.exec, deps.settings);
        if (modules.loaded.length > 0) log.info(`loaded ${modules.loaded.join(', ')}`);
        deps.checkpoint('modules');
        // another VM may have started exporting an image or using the id meanwhile: the same gather and
        // decision, now with the controllers, whose plan is applied before the lock is given back
        const plan = decide(deps, vmid, spec, vm.config, true);
        if (!plan.build) throw new Error('the locked decision has no gadget to build');
        return await applyBuild(deps, vmid, { ...plan, build: plan.build });
      } catch (err) {
        await undo(deps, vmid);
        throw err;
      }
    });
  } catch (err) {
    await mapping?.catch(() => undefined);
    throw err;
  }

  try {
    const { udc } = record.current;
    const dev = await waitForEnumeration(deps.fs, deps.clock, udc, usbId(spec), deps.settings.enumerationTimeoutMs);
    log.info(`host enumerated ${usbId(spec)} as ${dev.name} on ${udc}`);
    deps.checkpoint('enumerated');
    if (deps.settings.isolateHostStorage) isolateAfterEnumeration(deps, dev);
    record.update({ phase: 'live', busPort: dev.name });

    if (passthrough && mapping) {
      const m = await mapping;
      record.update({ mapping: m.name });
      if (m.checked) passthrough.attachIfMissing(vmid, vm);
      deps.checkpoint('mapping');
    } else {
      log.warn('no Proxmox API token configured: the USB mapping was not checked');
    }
  } catch (err) {
    await mapping?.catch(() => undefined);
    await withLock(deps, () => undo(deps, vmid));
    throw err;
  }
  // a stop-mode vzdump backup starts QEMU with `lock: backup` and the guest waits for this hook: the stick
  // is copied now, from what the gadget serves (volumes are active only now), outside the host lock
  // (src/backup/at-pre-start.ts; never throws, so it never fails the start)
  await copyAtBackupStart(deps, vmid, vm.config, spec);
}

async function undo(deps: HookDeps, vmid: number): Promise<void> {
  const r = await teardownLocked(deps, vmid);
  if (r.failures.length === 0) deps.log.info('undid everything this start had made');
  else deps.log.error(`could not undo everything (${r.failures.length} step(s) failed); run: pve-usb-gadget down ${vmid}`);
  // modules this start loaded go too, unless another stick (or keep_loaded) still needs them
  const unloaded = await unloadIfIdle(deps.fs, deps.exec, deps.settings);
  if (unloaded.length > 0) deps.log.info(`unloaded ${unloaded.join(', ')} (no gadget left)`);
}

/** The facts gathered and judged: once outside the lock (no controllers), once under it (`locked`). */
function decide(deps: HookDeps, vmid: number, spec: GadgetSpec, vmConfig: Readonly<Record<string, string>> | undefined, locked: boolean): PreStartPlan {
  return decidePreStart(vmid, spec, gatherPreStartFacts(deps, vmid, spec, vmConfig, { udcs: locked }), deps.settings);
}

/** Runs `fn` holding the host lock; the timing marks (deps.mark) show how long it was held. */
export async function withLock<T>(deps: Pick<HookDeps, 'lock' | 'mark'>, fn: () => T | Promise<T>): Promise<T> {
  const release = await deps.lock.acquire();
  deps.mark?.('lock-acquired');
  try {
    return await fn();
  } finally {
    await release();
    deps.mark?.('lock-released');
  }
}
