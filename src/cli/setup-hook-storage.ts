/**
 * `pve-usb-gadget setup hook-storage --storage ID` / `--undo`: the storage that holds the hook script.
 * It must be in storage.cfg (read with the one parser, storage/storage-config.ts) and keep its volumes
 * as files, and have the `snippets` content type, which qemu-server requires of a hookscript volume;
 * install.sh enables that type when missing (`pvesm set`, as an admin would) and records so, so that
 * --uninstall (`--undo`, on the last node) takes away only what it added, and only from an empty folder.
 */
import type { Command } from 'commander';
import { SetupError } from '../errors.js';
import { run } from '../host/exec.js';
import { availableOn, readStorageConfig, STORAGE_CFG, type StorageConfig } from '../storage/storage-config.js';
import { contentDirectory } from '../storage/storage-dirs.js';
import { addClusterRecord, clusterRecords, removeClusterRecord } from './setup-records.js';
import type { SetupDeps } from './setup-report.js';

const RECORD = 'snippets:';
const contentList = (content: string | undefined) => (content ?? '').split(',').filter((c) => c !== '');

export interface HookStoragePlan {
  /** where the storage keeps snippets: the hook script's folder */
  snippetsDir: string;
  /** the content list to set, when `snippets` is missing from it */
  addSnippets?: string;
}

/** Pure: can `id` hold the hook for `node`'s VMs, and what has to change for it. */
export function planHookStorage(storages: StorageConfig, id: string, node: string): HookStoragePlan {
  const def = storages.get(id);
  if (!def) throw new SetupError(`storage '${id}' not found (--storage)`, { key: 'storage', path: STORAGE_CFG, fix: 'name a storage of `pvesm status`' });
  // qemu-server resolves the hookscript volume on the VM's node at every start
  if (!availableOn(def, node)) {
    throw new SetupError(`storage '${id}' is disabled or not available on node ${node}`, { key: 'storage', path: STORAGE_CFG, fix: `enable it for ${node} (Datacenter > Storage), or use another --storage` });
  }
  const snippetsDir = contentDirectory(def, 'snippets');
  if (snippetsDir === undefined) {
    throw new SetupError(`storage '${id}' (type ${def.type}) keeps no files: the hook script needs a directory storage`, {
      key: 'storage',
      path: STORAGE_CFG,
      fix: 'use --storage with a dir, nfs, cifs or cephfs storage (default: local)',
    });
  }
  const content = def.props.content;
  // install.sh appends to the list as written (`${content:+$content,}snippets`)
  return contentList(content).includes('snippets') ? { snippetsDir } : { snippetsDir, addSnippets: content ? `${content},snippets` : 'snippets' };
}

export async function enableHookStorage(deps: SetupDeps, id: string): Promise<void> {
  const plan = planHookStorage(readStorageConfig(deps.fs), id, deps.node);
  if (plan.addSnippets !== undefined) {
    await run(deps.exec, 'pvesm', ['set', id, '--content', plan.addSnippets], `add snippets to the content of storage ${id} (Datacenter > Storage), then run install.sh again`);
    addClusterRecord(deps.fs, `${RECORD}${id}`);
    deps.report.changed(`enabled the snippets content type on storage ${id}`);
  }
  deps.report.value('snippets-dir', plan.snippetsDir);
}

/** --uninstall on the last node: take `snippets` off each storage install.sh put it on, if its folder is empty. */
export async function undoHookStorage(deps: SetupDeps): Promise<void> {
  const storages = readStorageConfig(deps.fs);
  for (const record of clusterRecords(deps.fs).filter((r) => r.startsWith(RECORD))) {
    const id = record.slice(RECORD.length);
    const def = storages.get(id);
    if (!def) {
      deps.report.ok(`storage ${id} is no longer in ${STORAGE_CFG}: no snippets content type to take away`);
      removeClusterRecord(deps.fs, record);
      continue;
    }
    const dir = contentDirectory(def, 'snippets');
    if (dir !== undefined && deps.fs.list(dir).length > 0) {
      deps.report.ok(`kept the snippets content type on ${id}: ${dir} holds other files`);
      continue;
    }
    const rest = contentList(def.props.content).filter((c) => c !== 'snippets');
    const r = await deps.exec('pvesm', ['set', id, '--content', rest.join(',')]);
    if (r.exitCode === 0) {
      deps.report.changed(`disabled the snippets content type on ${id} again`);
      removeClusterRecord(deps.fs, record);
    } else {
      deps.report.warn(`pvesm set ${id} --content ${rest.join(',')} failed: ${(r.stderr || r.stdout).trim()}; take snippets off storage ${id} by hand`);
    }
    if (dir !== undefined && deps.fs.exists(dir)) {
      try {
        deps.fs.rmdir(dir);
      } catch {
        // not empty after all, or in use: the folder stays, as install.sh's `rmdir ... || true` left it
      }
    }
  }
}

export function registerHookStorage(setup: Command, deps: () => SetupDeps): void {
  setup
    .command('hook-storage')
    .description("check the hook script's storage and enable its snippets content type; prints `snippets-dir: <folder>`")
    .option('--storage <id>', 'the storage (default: local)', 'local')
    .option('--undo', 'take snippets off the storages install.sh added it to, where their folder is empty (uninstall, last node)')
    .action(async (o: { storage: string; undo?: boolean }) => {
      if (o.undo) return undoHookStorage(deps());
      await enableHookStorage(deps(), o.storage);
    });
}
