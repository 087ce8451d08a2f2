/**
 * `pve-usb-gadget media <vmid> [--lun N] show | insert <image> | eject`: wiring and the notes side.
 * The stick side is src/media/change.ts. With insert (unless --once) the notes are edited first in
 * memory and validated, so a change the notes cannot take is refused before the stick changes; they are
 * written after it, through the API with the digest read before (a concurrent edit fails, never lost).
 * eject leaves the notes alone: they have no way to say "no medium", so the next start serves theirs.
 */
import { Command, CommanderError, Option } from 'commander';
import { MediaError, NotesError } from '../errors.js';
import { createLogger } from '../hook/log.js';
import { createClient } from '../hook/passthrough.js';
import { changeMedia, type MediaCommand } from '../media/change.js';
import { readLiveLuns } from '../media/live-lun.js';
import { formatLunStatus, lunStatuses } from '../media/lun-status.js';
import { notesLuns, resolver } from '../media/notes-luns.js';
import type { ProxmoxClient } from '../proxmox/client.js';
import { validateNotes } from '../spec/validate.js';
import { smbiosUuid } from '../hook/vm-source.js';
import type { HookDeps } from '../hook/deps.js';
import { printLine } from './admin-deps.js';
import { vmidArg } from './args.js';
import { cliDeps } from './context.js';
import { setLunKeys } from './notes-edit.js';

export type NotesApi = Pick<ProxmoxClient, 'getVmConfig' | 'updateVmConfig'>;

export interface MediaOptions {
  lun?: string;
  once?: boolean;
  force?: boolean;
  cdrom?: boolean;
  readonly?: boolean;
  json?: boolean;
}

/** The edited notes for an insert, validated; throws before anything changed. */
export async function prepareNotes(api: NotesApi, node: string, vmid: number, cmd: Extract<MediaCommand, { action: 'insert' }>, defaultSpeed: HookDeps['settings']['defaultSpeed']) {
  const { config, digest } = await api.getVmConfig(node, vmid);
  const notes = config.description === undefined ? '' : String(config.description);
  const keys = new Map([['image', cmd.image]]);
  if (cmd.cdrom !== undefined) keys.set('cdrom', String(cmd.cdrom));
  if (cmd.readonly !== undefined) keys.set('readonly', String(cmd.readonly));
  let edited: string | undefined;
  try {
    edited = setLunKeys(notes, cmd.lun, keys);
  } catch (err) {
    throw new MediaError(`cannot write ${cmd.image} into the notes: ${(err as Error).message}`, { fix: 'use a path without double quotes, or --once' });
  }
  const section = cmd.lun === 0 ? '[usb-gadget]' : `[usb-gadget.lun${cmd.lun}]`;
  if (edited === undefined) {
    throw new MediaError(`VM ${vmid}'s notes have no ${section} section to record the new medium in: nothing changed`, { key: section, fix: 'add it to the notes, or add --once to change the medium until the VM stops' });
  }
  const uuid = smbiosUuid(config.smbios1 === undefined ? undefined : String(config.smbios1));
  const result = validateNotes(edited, { vmid, smbiosUuid: uuid, defaultSpeed });
  if (result.kind === 'invalid') throw new NotesError(result.problems);
  const vmConfig = Object.fromEntries(Object.entries(config).map(([k, v]) => [k, String(v)]));
  return { notes, edited, digest, vmConfig };
}

/** Test-only: PVE_USB_GADGET_MEDIA_FAULT=<n> kills the CLI with SIGKILL right after the n-th configfs write. */
export function mediaFault(env: NodeJS.ProcessEnv): ((done: number) => void) | undefined {
  const n = Number(env.PVE_USB_GADGET_MEDIA_FAULT);
  if (!Number.isInteger(n) || n < 1) return undefined;
  return (done) => {
    if (done === n) process.kill(process.pid, 'SIGKILL');
  };
}

export type MediaInvocation = { action: 'show'; lun?: number; json: boolean } | (MediaCommand & { once: boolean });

/** argv → what to do; CommanderError (exit 2) for a bad combination. Pure. */
export function parseMediaArgs(action: string, image: string | undefined, o: MediaOptions): MediaInvocation {
  const usage = (m: string) => new CommanderError(2, 'usage', m);
  if (o.lun !== undefined && !/^(?:[0-9]|1[0-5])$/.test(o.lun)) throw usage(`not a LUN: '${o.lun}' (0..15)`);
  const lun = o.lun === undefined ? 0 : Number(o.lun);
  const insertOnly = o.once || o.cdrom !== undefined || o.readonly !== undefined;
  if (action === 'show') {
    if (image !== undefined || insertOnly || o.force) throw usage('show takes only --lun and --json');
    return { action: 'show', lun: o.lun === undefined ? undefined : lun, json: !!o.json };
  }
  if (o.json) throw usage('--json goes with show only');
  if (action === 'eject') {
    if (image !== undefined || insertOnly) throw usage('eject takes only --lun and --force (it never changes the notes)');
    return { action: 'eject', lun, force: !!o.force, once: true };
  }
  if (action !== 'insert' || image === undefined) throw usage('give show, eject or insert <image>');
  return { action: 'insert', lun, image, cdrom: o.cdrom, readonly: o.readonly, force: !!o.force, once: !!o.once };
}

async function run(deps: HookDeps & { afterStep?: (done: number) => void }, api: NotesApi | undefined, vmid: number, inv: MediaInvocation): Promise<void> {
  if (inv.action === 'show') {
    const statuses = lunStatuses(deps.state.read(vmid), readLiveLuns(deps.fs, vmid), notesLuns(deps.fs, deps.settings, vmid), resolver(deps.fs)).filter((s) => inv.lun === undefined || s.index === inv.lun);
    if (inv.json) return printLine(JSON.stringify(statuses, null, 2));
    if (statuses.length === 0) throw new MediaError(`VM ${vmid} has no live stick${inv.lun !== undefined ? ` with lun${inv.lun}` : ''} on this host`, { fix: `start the VM (or run: pve-usb-gadget up ${vmid})` });
    return statuses.forEach((s) => printLine(formatLunStatus(s)));
  }
  if (inv.action === 'eject') {
    const r = await changeMedia(deps, vmid, inv);
    printLine(`VM ${vmid}: ${r.message}`);
    if (r.changed) printLine(`VM ${vmid}: the notes are unchanged: the next start serves their image on lun${inv.lun} again`);
    return;
  }
  const { once, ...cmd } = inv;
  const target = cmd.lun;
  const image = cmd.image;
  let prepared: Awaited<ReturnType<typeof prepareNotes>> | undefined;
  if (!once) {
    if (!api) throw new MediaError('updating the notes needs the Proxmox API token, and the settings have no [api] section', { key: 'api', fix: 'add --once (the notes stay as they are), or run install.sh with the API set up' });
    prepared = await prepareNotes(api, deps.settings.node, vmid, cmd, deps.settings.defaultSpeed);
  }
  const r = await changeMedia(deps, vmid, cmd, prepared?.vmConfig);
  printLine(`VM ${vmid}: ${r.message}`);
  if (!prepared || !api) return printLine(`VM ${vmid}: --once: the notes are unchanged, the next start serves their image again`);
  if (prepared.edited === prepared.notes) return printLine(`VM ${vmid}: the notes already name ${image}`);
  try {
    await api.updateVmConfig(deps.settings.node, vmid, { description: prepared.edited }, { digest: prepared.digest });
  } catch (err) {
    throw new MediaError(`lun${target} serves ${r.file} now, but the notes were not updated (${err instanceof Error ? err.message : String(err)})`, {
      fix: `run the same command again (the stick stays as it is, the notes are written), or edit the notes by hand`,
    });
  }
  printLine(`VM ${vmid}: notes updated: lun${target} image = ${image}`);
}

export function registerMediaCommand(program: Command): void {
  program
    .command('media')
    .description('change a live stick\'s medium: show | insert <image> | eject (the VM running, or after up)')
    .argument('<vmid>')
    .argument('<action>', 'show, insert or eject')
    .argument('[image]', 'for insert: absolute path of an image inside an allowed directory, or a volume id (storage:volume)')
    .option('--lun <n>', 'the LUN (0 = the [usb-gadget] section, N = [usb-gadget.lunN])')
    .option('--once', 'insert: leave the notes as they are (the next start serves their image again)')
    .option('--force', `eject even when the guest has locked the medium (forced_eject): the guest gets I/O errors and loses data it has not flushed`)
    .addOption(new Option('--cdrom', 'insert: serve it as a CD-ROM (read-only)'))
    .addOption(new Option('--no-cdrom', 'insert: serve it as a disk'))
    .addOption(new Option('--readonly', 'insert: read-only'))
    .addOption(new Option('--no-readonly', 'insert: read-write'))
    .option('--json', 'show: machine-readable output')
    .action(async (id: string, action: string, image: string | undefined, o: MediaOptions) => {
      vmidArg(id);
      const inv = parseMediaArgs(action, image, o);
      const deps = cliDeps({ settings: program.opts<{ settings?: string }>().settings });
      const api = inv.action === 'insert' && !inv.once ? createClient({ settings: deps.settings, log: createLogger('pve-usb-gadget') }) : undefined;
      try {
        await run({ ...deps, afterStep: mediaFault(process.env) }, api, Number(id), inv);
      } finally {
        await api?.close();
      }
    });
}
