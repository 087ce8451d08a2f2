// The commands of pve-usb-gadget (main.ts runs them).
import { Command, CommanderError } from 'commander';
import { postStop } from '../hook/post-stop.js';
import { preStart } from '../hook/pre-start.js';
import { loadSettings } from '../settings/load.js';
import { StateStore } from '../state/record.js';
import { nodeHostFs } from '../apply/host-fs.js';
import { registerAdminCommands } from './commands-admin.js';
import { registerBackupCommands } from './backup.js';
import { registerImageCommands } from './commands-image.js';
import { registerKernelModuleCommand } from './kernel-module.js';
import { vmidArg } from './args.js';
import { ATTACH_COMMAND, cliAttachHelper, runAttachHelper } from './attach-helper.js';
import { cliDeps } from './context.js';
import { collectStatus, formatStatus } from './status.js';
import { readNotesFile, validateVm } from './validate.js';
import { notesLuns } from '../media/notes-luns.js';
import { registerMediaCommand } from './media.js';
import { registerSnapshotCommands } from './snapshot.js';
import { registerSetupCommands } from './setup.js';

const out = (lines: readonly string[]) => process.stdout.write(lines.map((l) => `${l}\n`).join(''));


export interface ProgramOptions {
  /** the path this CLI runs from (process.argv[1]): `up` starts its own attach helper with it */
  self?: string;
  /** the attach helper's work; replaced by tests */
  attach?: (vmid: number, settings: string | undefined) => Promise<void>;
}

export function program(opts: ProgramOptions = {}): Command {
  const p = new Command('pve-usb-gadget')
    .description('Emulated USB sticks for Proxmox VE VMs (dummy_hcd + configfs mass-storage gadget)')
    .option('--settings <file>', 'settings file (default /etc/pve-usb-gadget/settings.ini, or $PVE_USB_GADGET_SETTINGS)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  p.command('validate')
    .description('check a VM\'s [usb-gadget] notes and print the resolved gadget (exit 0 valid, 1 invalid, 2 usage)')
    .argument('[vmid]', 'VM whose notes to check (read through the API, or the local config)')
    .option('--notes-file <file>', 'check notes from a file instead of a VM')
    .option('--vmid <vmid>', 'VM id to resolve defaults with, for --notes-file', '100')
    .action(async (vmid: string | undefined, o: { notesFile?: string; vmid: string }) => {
      const g = p.opts<{ settings?: string }>();
      if (!vmid === !o.notesFile) throw new CommanderError(2, 'usage', 'give either <vmid> or --notes-file FILE');
      let result;
      if (o.notesFile) {
        const settings = loadSettings({ path: g.settings });
        result = validateVm({ description: readNotesFile(o.notesFile) }, vmidArg(o.vmid), settings);
      } else {
        const deps = cliDeps({ settings: g.settings, api: true });
        const id = vmidArg(vmid as string);
        result = validateVm(await deps.vms.read(id), id, deps.settings);
      }
      out(result.lines);
      process.exitCode = result.code;
    });

  p.command('status')
    .description('every emulated stick on this host: VM, UDC, bus-port, ids, serial, speed, enumeration, host isolation, images')
    .option('--json', 'machine-readable output')
    .action((o: { json?: boolean }) => {
      const settings = loadSettings({ path: p.opts<{ settings?: string }>().settings });
      const fs = nodeHostFs(settings.paths.root);
      const list = collectStatus(fs, new StateStore(fs, settings.paths.stateDir), (vmid) => notesLuns(fs, settings, vmid));
      out(o.json ? [JSON.stringify(list, null, 2)] : formatStatus(list));
    });

  p.command('up')
    .description('run the pre-start logic by hand: build and enumerate the VM\'s stick without starting the VM')
    .argument('<vmid>')
    .action(async (vmid: string) => {
      const deps = cliDeps({ settings: p.opts<{ settings?: string }>().settings, api: true, helper: cliAttachHelper(opts.self ?? process.argv[1] ?? 'pve-usb-gadget') });
      await preStart(deps, vmidArg(vmid));
    });

  // what `up` starts detached when the VM has no usbN line: the hook's attach-mapping phase, as a command
  p.command(ATTACH_COMMAND, { hidden: true })
    .argument('<vmid>')
    .action(async (vmid: string) => {
      await (opts.attach ?? runAttachHelper)(vmidArg(vmid), p.opts<{ settings?: string }>().settings);
    });

  p.command('down')
    .description('run the post-stop logic by hand: remove the VM\'s stick (idempotent)')
    .argument('<vmid>')
    .action(async (vmid: string) => {
      await postStop(cliDeps({ settings: p.opts<{ settings?: string }>().settings }), vmidArg(vmid));
    });
  registerAdminCommands(p);
  registerImageCommands(p);
  registerKernelModuleCommand(p);
  registerBackupCommands(p);
  registerMediaCommand(p);
  registerSnapshotCommands(p);
  registerSetupCommands(p);
  return p;
}
