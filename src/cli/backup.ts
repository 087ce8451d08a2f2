/**
 * The backup commands (argument parsing and wiring; the work is in src/backup/):
 *   vzdump-hook PHASE [MODE VMID]     what vzdump runs (through the wrapper install-hook writes)
 *   backup list <vmid>                the stick copies beside vzdump archives
 *   backup install-hook / uninstall-hook
 *   restore <vmid> --from <archive|time> [--to <image>] [--lun N]
 */
import { Command, CommanderError, Option } from 'commander';
import { realpathSync } from 'node:fs';
import { nodeHostFs } from '../apply/host-fs.js';
import type { HostFs } from '../ports/host-fs.js';
import { backupDumpDirs, listStickBackups } from '../backup/catalog.js';
import { CHAIN_FILE, runChained, type ChainDeps } from '../backup/chain.js';
import { backupDepsFrom } from '../backup/deps.js';
import { HOOK_WRAPPER, installHook, uninstallHook } from '../backup/install-hook.js';
import { restoreStick } from '../backup/restore.js';
import { spawnScript } from '../backup/run-script.js';
import { vzdumpHook } from '../backup/vzdump-hook.js';
import { GadgetError } from '../errors.js';
import { hostDeps } from '../hook/host-deps.js';
import { createLogger, type Logger } from '../hook/log.js';
import { execaExec } from '../host/exec.js';
import { loadSettings } from '../settings/load.js';
import { StateStore } from '../state/record.js';
import { VMID } from '../values/proxmox-ids.js';
import { printLine } from './admin-deps.js';
import { vmidArg as vmid } from './args.js';


function chainDeps(fs: HostFs, log: Logger): ChainDeps {
  let self: string | undefined;
  try {
    self = realpathSync(HOOK_WRAPPER);
  } catch {
    self = undefined;
  }
  const uid = process.getuid?.();
  return { fs, run: spawnScript, trustedUids: uid === undefined || uid === 0 ? [0] : [0, uid], self, say: (l) => log.error(l) };
}

/** What a Debian root shell has; used only when vzdump gave no PATH. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The hook entry: the admin's script runs even when our settings cannot be read. */
export async function runVzdumpHook(argv: readonly string[], given: NodeJS.ProcessEnv): Promise<number> {
  // vzdump runs its hook with its own variables only (PVE/VZDump.pm run_hook_script: `local %ENV` empties
  // the environment; checked with perl here): no PATH, so `qm` (/usr/sbin) would not be found. The
  // chained script gets exactly what vzdump gave; our own processes get a PATH.
  const env = { ...given };
  if (!process.env.PATH) process.env.PATH = DEFAULT_PATH;
  const log = createLogger(`pve-usb-gadget[${VMID.test(argv[2] ?? '') ? argv[2] : 'vzdump'}]`);
  let settings;
  try {
    settings = loadSettings({ env });
  } catch (err) {
    const chained = await runChained(chainDeps(nodeHostFs('/'), log), argv, env);
    log.error(`the host settings cannot be read, no stick is saved: ${err instanceof GadgetError ? err.toLine() : String(err)}`);
    return chained.chained ? chained.exitCode : 0;
  }
  const hd = hostDeps(settings, log);
  return vzdumpHook({ ...backupDepsFrom(hd), vms: hd.vms, chain: chainDeps(hd.fs, log) }, argv, env);
}

const qmRunning = async (id: number) => {
  const r = await execaExec('qm', ['status', String(id)], { timeoutMs: 30_000 });
  if (r.exitCode !== 0) throw new GadgetError(`qm status ${id} failed: ${(r.stderr || r.stdout).trim()}`, { fix: `run as root on the node of VM ${id}` });
  return !/^status: stopped$/m.test(r.stdout);
};

export function registerBackupCommands(program: Command): void {
  const settings = () => loadSettings({ path: program.opts<{ settings?: string }>().settings });

  program
    .command('vzdump-hook')
    .description("vzdump's hook (install with: backup install-hook): SCRIPT PHASE [MODE VMID], as vzdump calls it")
    .argument('[args...]')
    .allowUnknownOption()
    .action(async (args: string[]) => {
      process.exitCode = await runVzdumpHook(args, process.env);
    });

  const backup = program.command('backup').description('stick copies in vzdump backups');
  const dumpdirOption = () => new Option('--dumpdir <dir>', "a dump directory (default: every backup storage's <path>/dump on this node)");
  backup
    .command('list')
    .description('the stick copies of a VM: archive, time, USB ids and serial, size, how the copy was taken')
    .argument('<vmid>')
    .addOption(dumpdirOption())
    .option('--json', 'machine-readable output')
    .action((id: string, o: { dumpdir?: string; json?: boolean }) => {
      const s = settings();
      const fs = nodeHostFs(s.paths.root);
      const dirs = o.dumpdir ? [o.dumpdir] : backupDumpDirs(fs, s.node);
      const list = listStickBackups(fs, dirs, vmid(id), (path, err) => printLine(`WARNING: ${path}: ${err instanceof GadgetError ? err.toLine() : String(err)}`));
      if (o.json) return printLine(JSON.stringify(list, null, 2));
      if (list.length === 0) return printLine(`no stick copies of VM ${id} in ${dirs.join(', ') || 'any backup storage'}`);
      for (const b of list) {
        const u = b.manifest.usb;
        const size = b.manifest.luns.reduce((a, l) => a + l.size, 0);
        printLine(`${b.time}  ${b.archive ?? `${b.base} (archive gone)`}  ${u.vendorId}:${u.productId} serial ${u.serial}  ${size} bytes  LUN ${b.manifest.luns.map((l) => l.index).join(',')}  ${b.manifest.method}  ${b.dumpDir}`);
      }
    });
  backup
    .command('install-hook')
    .description("make pve-usb-gadget's hook this node's vzdump script (/etc/vzdump.conf); an existing script keeps running, first")
    .option('--cli <path>', 'the pve-usb-gadget the hook runs', '/usr/local/sbin/pve-usb-gadget')
    .action((o: { cli: string }) => {
      const s = settings();
      for (const l of installHook(nodeHostFs(s.paths.root), { cli: o.cli })) printLine(l);
    });
  backup
    .command('uninstall-hook')
    .description(`undo install-hook: /etc/vzdump.conf gets back the script it had (from ${CHAIN_FILE})`)
    .action(() => {
      const s = settings();
      for (const l of uninstallHook(nodeHostFs(s.paths.root), {})) printLine(l);
    });

  program
    .command('restore')
    .description("write a stick copy from a vzdump backup back (VM stopped; the target passes the image or volume policy; checksum verified; atomic for files, in place for volumes)")
    .argument('<vmid>')
    .requiredOption('--from <archive|time>', 'the archive (name or path) or its time YYYY_MM_DD-HH_MM_SS')
    .option('--to <image|storage:volume>', "image file or Proxmox volume to write (default: the copy's volume when it was one, else the VM's notes image for the LUN)")
    .option('--lun <n>', 'which LUN of the copy', '0')
    .addOption(dumpdirOption())
    .action(async (id: string, o: { from: string; to?: string; lun: string; dumpdir?: string }) => {
      if (!/^(?:[0-9]|1[0-5])$/.test(o.lun)) throw new CommanderError(2, 'usage', `--lun must be 0..15`);
      const s = settings();
      const hd = hostDeps(s, createLogger('pve-usb-gadget'));
      await restoreStick(
        { fs: hd.fs, settings: s, state: new StateStore(hd.fs, s.paths.stateDir), vms: hd.vms, isRunning: qmRunning, print: printLine, pid: process.pid, exec: hd.exec, log: hd.log },
        { vmid: vmid(id), from: o.from, to: o.to, lun: Number(o.lun), dumpDirs: o.dumpdir ? [o.dumpdir] : backupDumpDirs(hd.fs, s.node) },
      );
    });
}
