/**
 * `pve-usb-gadget vzdump-hook PHASE [MODE VMID]`: the node's vzdump hook (phases.ts decides, this
 * file does). The admin's own hook runs first (chain.ts). Exit code: the chained script's when it
 * failed; 1 when a stick copy failed and [backup] fail_on_copy_error is set; else 0, whatever happened
 * to the stick (the task log says so, loudly).
 */
import { GadgetError, NotesError } from '../errors.js';
import type { VmSource } from '../hook/vm-source.js';
import { validateNotes } from '../spec/validate.js';
import type { GadgetSpec } from '../spec/types.js';
import { runChained, type ChainDeps } from './chain.js';
import type { BackupDeps } from './deps.js';
import { decide, hookEnv, parseHookArgv, type Decision, type HookCall } from './phases.js';
import { pruneOrphans, removeBase } from './prune.js';
import { takeCopy } from './take.js';

export interface VzdumpHookDeps extends BackupDeps {
  vms: VmSource;
  chain: ChainDeps;
  chainFile?: string;
}

const failOnCopyError = (deps: BackupDeps) => deps.settings.backup?.failOnCopyError ?? false;

export async function vzdumpHook(deps: VzdumpHookDeps, argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const chained = await runChained(deps.chain, argv, env, deps.chainFile);
  const call = parseHookArgv(argv);
  if (call.kind === 'usage') {
    deps.log.error(`vzdump-hook: ${call.message}`);
    return chained.chained && chained.exitCode !== 0 ? chained.exitCode : 2;
  }
  const theirsFailed = chained.chained && chained.exitCode !== 0;
  if (theirsFailed) {
    deps.log.error(`the chained vzdump hook ${chained.script} failed (exit ${chained.exitCode}) in ${call.phase}: vzdump fails this phase as it would without pve-usb-gadget`);
    // an aborted backup is cleaned up whatever their script said: it is aborted either way
    if (call.phase !== 'backup-abort') return chained.exitCode;
  }
  let code = 0;
  try {
    code = await act(deps, call, env);
  } catch (err) {
    deps.log.error(`vzdump-hook ${call.phase}: ${err instanceof GadgetError ? err.toLine() : err instanceof Error ? err.message : String(err)}`);
    code = failOnCopyError(deps) ? 1 : 0;
  }
  return theirsFailed ? chained.exitCode : code;
}

async function readSpec(deps: VzdumpHookDeps, vmid: number): Promise<{ has: boolean; spec: GadgetSpec | GadgetError }> {
  const vm = await deps.vms.read(vmid);
  const r = validateNotes(vm.description, { vmid, smbiosUuid: vm.smbiosUuid, defaultSpeed: deps.settings.defaultSpeed });
  if (r.kind === 'none') return { has: false, spec: new GadgetError('no [usb-gadget] section') };
  return { has: true, spec: r.kind === 'ok' ? r.spec : new NotesError(r.problems) };
}

async function act(deps: VzdumpHookDeps, call: Exclude<HookCall, { kind: 'usage' }>, rawEnv: Readonly<Record<string, string | undefined>>): Promise<number> {
  const env = hookEnv(rawEnv);
  // containers have no stick, and no /etc/pve/qemu-server/<vmid>.conf to read notes from
  if (call.kind === 'guest' && env.vmType !== undefined && env.vmType !== 'qemu') return 0;
  // the notes are read only in the phases that may act on them
  let spec: GadgetSpec | GadgetError = new GadgetError('notes not read');
  let hasGadget = false;
  if (call.kind === 'guest' && ['backup-start', 'pre-stop', 'backup-end'].includes(call.phase)) {
    ({ has: hasGadget, spec } = await readSpec(deps, call.vmid));
  }
  const d: Decision = decide(call, env, { hasGadget: hasGadget || (call.kind === 'guest' && call.phase === 'backup-abort') });
  const vmid = call.kind === 'guest' ? call.vmid : 0;
  const mode = call.kind === 'guest' ? call.mode : 'stop';
  switch (d.kind) {
    case 'nothing':
      return 0;
    case 'no-copy':
      deps.log.warn(`VM ${vmid}: no copy of the USB stick in this backup: ${d.why}`);
      return 0;
    case 'remember':
      deps.pending.write({ version: 1, vmid, mode, dumpDir: d.dumpDir, base: d.base, state: 'awaiting' });
      deps.log.info(`stop mode: the stick of VM ${vmid} is copied while the VM is down, when vzdump starts it paused for the backup`);
      return 0;
    case 'copy-live': {
      const r = await takeCopy(deps, { vmid, mode, when: 'live', dumpDir: d.dumpDir, base: d.base, spec });
      return r.state === 'failed' && failOnCopyError(deps) ? 1 : 0;
    }
    case 'finish':
      return finish(deps, vmid, mode, d, spec);
    case 'abandon': {
      deps.pending.remove(vmid);
      const gone = removeBase(deps.fs, d.dumpDir, d.base);
      if (gone.length > 0) deps.log.info(`backup aborted: removed the stick copy ${gone.join(', ')}`);
      return 0;
    }
    case 'prune': {
      const r = pruneOrphans(deps.fs, d.dumpDir, deps.pending.activeBases());
      if (r.removed.length > 0) deps.log.info(`removed stick copies whose archive is gone: ${r.removed.join(', ')}`);
      return 0;
    }
  }
}

async function finish(deps: VzdumpHookDeps, vmid: number, mode: 'stop' | 'suspend' | 'snapshot', d: { dumpDir: string; base: string }, spec: GadgetSpec | GadgetError): Promise<number> {
  let p = deps.pending.read(vmid);
  if (p?.base !== d.base) p = undefined;
  if (p?.state === 'awaiting') {
    deps.log.warn(
      `the stick of VM ${vmid} was not copied while the VM was down (is the VM's hookscript pve-usb-gadget's? pve-usb-gadget enable sets it); copying it now with the guest running`,
    );
    p = await takeCopy(deps, { vmid, mode, when: 'live', dumpDir: d.dumpDir, base: d.base, spec });
  }
  deps.pending.remove(vmid);
  if (!p) return 0;
  deps.pending.writeLast(p);
  if (p.state === 'failed') {
    deps.log.error(`THE STICK OF VM ${vmid} IS NOT IN THIS BACKUP: ${p.error ?? 'the copy failed'}`);
    if (failOnCopyError(deps)) {
      deps.log.error('[backup] fail_on_copy_error = true: failing this backup');
      return 1;
    }
  }
  return 0;
}
