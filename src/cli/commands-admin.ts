/** The admin commands: enable, disable, doctor, privileges (argument parsing and wiring only). */
import { Command, CommanderError, Option } from 'commander';
import { nodeHostFs } from '../apply/host-fs.js';
import { createLogger } from '../hook/log.js';
import { createClient } from '../hook/passthrough.js';
import { execaExec } from '../host/exec.js';
import { loadSettings } from '../settings/load.js';
import { adminDeps, printLine } from './admin-deps.js';
import { disableVm } from './disable.js';
import { doctorExitCode, formatChecks, runDoctor } from './doctor.js';
import { enableVm, type EnableOptions } from './enable.js';
import { installedHookscript, isHookscriptVolid } from './hookscript.js';
import { PRIVILEGE_NEEDS, privilegesTable, rolePrivileges, ROOT_ACTIONS } from './privileges.js';
import { qmTool } from './qm.js';
import { vmidArg } from './args.js';

const vmid = vmidArg;

function hookscriptOption(): Option {
  return new Option('--hookscript <volid>', 'hookscript volume (default: what install.sh installed, else local:snippets/pve-usb-gadget-hook.cjs)').argParser((v) => {
    if (!isHookscriptVolid(v)) throw new CommanderError(2, 'usage', `not a snippets volume id: '${v}' (e.g. local:snippets/pve-usb-gadget-hook.cjs)`);
    return v;
  });
}

export function registerAdminCommands(program: Command): void {
  const settingsPath = () => program.opts<{ settings?: string }>().settings;

  program
    .command('enable')
    .description("give a stopped VM a stick: [usb-gadget] notes, USB mapping, usbN line, hookscript (run as root on the VM's node)")
    .argument('<vmid>')
    .requiredOption('--image <path>', 'absolute path of the image file (inside an allowed images directory)')
    .option('--vendor-id <hex>', 'USB vendor id, e.g. 0x0781 (default: what the notes have, else 0x1d6b; written into the notes)')
    .option('--product-id <hex>', 'USB product id, e.g. 0x5571 (default: what the notes have, else 0x8000 + vmid % 0x8000; written into the notes)')
    .option('--serial <text>', 'USB serial, 16+ characters 0-9 A-Z a-z (default: what the notes have, else a random 16-character one; written into the notes)')
    .option('--new-identity', 'fresh vendor_id, product_id and serial even if the notes have them (a clone): a NEW unRAID GUID, i.e. a licence transfer')
    .option('--manufacturer <text>', 'USB manufacturer string')
    .option('--product <text>', 'USB product string')
    .option('--inquiry <text>', 'SCSI inquiry string: 8 vendor + 16 product + 4 revision characters')
    .addOption(new Option('--speed <speed>', 'USB speed').choices(['super', 'high', 'full']))
    .option('--boot', 'put the stick first in the boot order')
    .addOption(hookscriptOption())
    .action(async (id: string, o: Omit<EnableOptions, 'hookscript'> & { hookscript?: string }) => {
      const deps = adminDeps(settingsPath());
      try {
        await enableVm(deps, vmid(id), { ...o, hookscript: o.hookscript ?? installedHookscript() });
      } finally {
        await deps.close();
      }
    });

  program
    .command('disable')
    .description('remove what enable added (notes section, usbN line, boot entry, mapping, our hookscript); images stay')
    .argument('<vmid>')
    .addOption(hookscriptOption())
    .action(async (id: string, o: { hookscript?: string }) => {
      const deps = adminDeps(settingsPath());
      try {
        await disableVm(deps, vmid(id), { hookscript: o.hookscript ?? installedHookscript() });
      } finally {
        await deps.close();
      }
    });

  program
    .command('doctor')
    .description('check this node: kernel modules, scheduler, Node, settings, secret, token privileges, hook, enabled VMs')
    .option('--json', 'machine-readable output')
    .action(async (o: { json?: boolean }) => {
      const closers: (() => Promise<void>)[] = [];
      const results = await runDoctor({
        fs: nodeHostFs('/'),
        exec: execaExec,
        nodeVersion: process.versions.node,
        loadSettings: () => loadSettings({ path: settingsPath() }),
        api: (settings) => {
          const client = createClient({ settings, log: createLogger('pve-usb-gadget') });
          if (client) closers.push(() => client.close());
          return client;
        },
        qm: qmTool(execaExec),
        hookscript: installedHookscript(),
      });
      for (const close of closers) await close();
      const out = o.json ? [JSON.stringify(results, null, 2)] : formatChecks(results);
      for (const l of out) printLine(l);
      process.exitCode = doctorExitCode(results);
    });

  program
    .command('privileges')
    .description("the API token's privileges: what the hook and the CLI need, and what stays root-only")
    .option('--json', 'machine-readable output')
    .option('--comma', "only the role's privilege list, comma-separated (for pveum role add --privs)")
    .option('--markdown', 'as a Markdown table')
    .action((o: { json?: boolean; comma?: boolean; markdown?: boolean }) => {
      if (o.comma) return printLine(rolePrivileges().join(','));
      if (o.json) return printLine(JSON.stringify({ role: rolePrivileges(), needs: PRIVILEGE_NEEDS, rootOnly: ROOT_ACTIONS }, null, 2));
      if (o.markdown) return privilegesTable().forEach((l) => printLine(l));
      for (const n of PRIVILEGE_NEEDS) printLine(`${n.privilege.padEnd(18)} on ${n.aclPath.padEnd(13)} ${n.neededBy === 'hook' ? 'hook' : 'CLI '}  ${n.why}`);
      for (const r of ROOT_ACTIONS) printLine(`${'(root only)'.padEnd(18)}    ${r.what}: ${r.why}`);
    });
}
