import type { HostFs } from '../ports/host-fs.js';
import { CommandError } from '../errors.js';
import { CONFIGFS_GADGETS, vmidOfGadget } from '../plan/ops.js';
import type { Settings } from '../settings/types.js';
import { buildFix, readRecord } from '../kernel/records.js';
import { run } from './exec.js';
import type { Exec } from '../ports/exec.js';

const CONFIGFS = '/sys/kernel/config';

export interface ModuleReport {
  /** what this call loaded or mounted, for the log */
  loaded: string[];
}

/**
 * Make sure the kernel side is ready: configfs mounted, libcomposite + usb_f_mass_storage, dummy_hcd
 * with the configured controller count, usb_storage (its quirks parameter must exist before the gadget
 * appears, or udev would load it and claim the disk first).
 */
export async function ensureModules(fs: HostFs, exec: Exec, settings: Settings): Promise<ModuleReport> {
  const loaded: string[] = [];
  const isLoaded = (m: string) => fs.exists(`/sys/module/${m}`);
  if (!isLoaded('configfs') || !fs.exists(`${CONFIGFS}/usb_gadget`)) {
    if (!isLoaded('libcomposite')) {
      await run(exec, 'modprobe', ['libcomposite'], 'install the kernel modules (pve-usb-gadget doctor)');
      loaded.push('libcomposite');
    }
    if (!fs.exists(`${CONFIGFS}/usb_gadget`)) {
      const mounted = (fs.readTextIfExists('/proc/mounts') ?? '').split('\n').some((l) => l.split(' ')[2] === 'configfs');
      if (!mounted) {
        await run(exec, 'mount', ['-t', 'configfs', 'none', CONFIGFS], 'mount configfs on /sys/kernel/config');
        loaded.push('configfs');
      }
    }
  }
  for (const m of ['libcomposite', 'usb_f_mass_storage', 'usb_storage']) {
    if (!isLoaded(m)) {
      await run(exec, 'modprobe', [m], `the kernel module ${m} is missing: run pve-usb-gadget doctor`);
      loaded.push(m);
    }
  }
  if (!isLoaded('dummy_hcd')) {
    await run(
      exec,
      'modprobe',
      ['dummy_hcd', `num=${settings.modules.controllers}`, 'is_high_speed=1', 'is_super_speed=1'],
      dummyHcdFix(fs),
    );
    loaded.push(`dummy_hcd num=${settings.modules.controllers}`);
  }
  return { loaded };
}

/** What to tell the admin when dummy_hcd does not load: what kernel-module recorded, and the command. */
function dummyHcdFix(fs: HostFs): string {
  const kernel = fs.readTextIfExists('/proc/sys/kernel/osrelease')?.trim();
  if (!kernel) return 'dummy_hcd is not built for this kernel: run install.sh --kernel-module';
  const rec = readRecord(fs, kernel);
  return rec && rec.status !== 'built' ? `${rec.message}; ${buildFix(kernel)}` : `dummy_hcd is not built for kernel ${kernel}: ${buildFix(kernel)}`;
}

/**
 * When no gadget is left, unload what ensureModules loads (unless the settings keep them). A module that
 * is still busy (another user, another gadget appearing meanwhile) stays: that is not an error.
 */
export async function unloadIfIdle(fs: HostFs, exec: Exec, settings: Settings): Promise<string[]> {
  if (settings.modules.keepLoaded) return [];
  const gadgets = fs.list(CONFIGFS_GADGETS);
  const unloaded: string[] = [];
  const tryUnload = async (m: string) => {
    if (!fs.exists(`/sys/module/${m}`)) return;
    const r = await exec('modprobe', ['-r', m]);
    if (r.exitCode === 0) unloaded.push(m);
  };
  const boundToDummy = gadgets.some((g) => (fs.readTextIfExists(`${CONFIGFS_GADGETS}/${g}/UDC`) ?? '').startsWith('dummy_udc'));
  if (!boundToDummy && !gadgets.some((g) => vmidOfGadget(g) !== undefined)) await tryUnload('dummy_hcd');
  if (gadgets.length === 0) {
    await tryUnload('usb_f_mass_storage');
    await tryUnload('libcomposite');
  }
  return unloaded;
}
