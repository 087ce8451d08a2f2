/**
 * `backup install-hook` / `backup uninstall-hook`: our vzdump hook as the node's `script:`, the
 * admin's previous script recorded in the chain file (chain.ts, vzdump-conf.ts). The script vzdump
 * runs is a two-line wrapper (vzdump calls `SCRIPT PHASE ...`, our CLI wants `vzdump-hook PHASE ...`).
 * Order: wrapper, then chain file, then vzdump.conf (atomic), so a failure half-way never leaves
 * vzdump pointing at something missing, nor the admin's script forgotten.
 */
import type { HostFs } from '../ports/host-fs.js';
import { BackupError } from '../errors.js';
import { CHAIN_FILE } from './chain.js';
import { installScript, uninstallScript } from './vzdump-conf.js';

export const VZDUMP_CONF = '/etc/vzdump.conf';
export const HOOK_WRAPPER = '/usr/local/lib/pve-usb-gadget/vzdump-hook';

export interface HookInstallPaths {
  conf?: string;
  chain?: string;
  wrapper?: string;
  /** the CLI the wrapper runs */
  cli: string;
}

/** Beside the chain file: we created vzdump.conf (a node without pve-manager's file), so uninstall removes it again. */
const createdMarker = (chain: string) => `${chain.slice(0, chain.lastIndexOf('/'))}/vzdump-conf-created`;

const wrapperText = (cli: string) => `#!/bin/sh\n# pve-usb-gadget's vzdump hook (pve-usb-gadget backup install-hook); the admin's own hook, if any,\n# is in ${CHAIN_FILE} and runs first\nexec ${cli} vzdump-hook "$@"\n`;

export function installHook(fs: HostFs, p: HookInstallPaths): string[] {
  const conf = p.conf ?? VZDUMP_CONF;
  const chain = p.chain ?? CHAIN_FILE;
  const wrapper = p.wrapper ?? HOOK_WRAPPER;
  if (!/^\/[A-Za-z0-9._/-]+$/.test(p.cli)) throw new BackupError(`CLI path ${p.cli.slice(0, 80)} has characters a shell would read`, { fix: 'install the CLI under a plain path' });
  const did: string[] = [];
  const edit = installScript(fs.readTextIfExists(conf) ?? '', wrapper);
  if ('error' in edit) throw new BackupError(edit.error, { path: conf, fix: `edit ${conf}` });
  fs.mkdir(wrapper.slice(0, wrapper.lastIndexOf('/')), { recursive: true, mode: 0o755 });
  if (fs.readTextIfExists(wrapper) !== wrapperText(p.cli)) {
    fs.writeAtomic(wrapper, wrapperText(p.cli), 0o755);
    did.push(`wrote ${wrapper}`);
  }
  if (edit.previous !== undefined) {
    if (edit.previous === wrapper) throw new BackupError('internal: previous script is ours');
    fs.mkdir(chain.slice(0, chain.lastIndexOf('/')), { recursive: true, mode: 0o755 });
    fs.writeAtomic(chain, `${edit.previous}\n`, 0o644);
    did.push(`recorded the previous vzdump script ${edit.previous} in ${chain}: it keeps running, before ours`);
  }
  if (edit.changed) {
    if (!fs.exists(conf)) {
      fs.mkdir(chain.slice(0, chain.lastIndexOf('/')), { recursive: true, mode: 0o755 });
      fs.writeAtomic(createdMarker(chain), `${conf}\n`, 0o644);
    }
    fs.writeAtomic(conf, edit.text, 0o644);
    did.push(`set script: ${wrapper} in ${conf}`);
  }
  return did;
}

export function uninstallHook(fs: HostFs, p: Omit<HookInstallPaths, 'cli'>): string[] {
  const conf = p.conf ?? VZDUMP_CONF;
  const chain = p.chain ?? CHAIN_FILE;
  const wrapper = p.wrapper ?? HOOK_WRAPPER;
  const did: string[] = [];
  const previous = fs.readTextIfExists(chain)?.split('\n')[0]?.trim() || undefined;
  const text = fs.readTextIfExists(conf);
  if (text !== undefined) {
    const edit = uninstallScript(text, wrapper, previous);
    if (edit.changed && edit.text.trim() === '' && fs.exists(createdMarker(chain))) {
      fs.unlink(conf);
      did.push(`removed ${conf} (install had created it)`);
    } else if (edit.changed) {
      fs.writeAtomic(conf, edit.text, 0o644);
      did.push(previous ? `restored script: ${previous} in ${conf}` : `removed script: from ${conf}`);
    }
    if (edit.note) did.push(edit.note);
  }
  for (const f of [chain, wrapper, createdMarker(chain)]) {
    if (fs.exists(f)) {
      fs.unlink(f);
      did.push(`removed ${f}`);
    }
  }
  return did;
}
