/**
 * Which hookscript volume is ours. install.sh installs the hook as <storage>:snippets/pve-usb-gadget-hook.cjs
 * and writes that volume id to /etc/pve-usb-gadget/hookscript, so enable sets the same one it installed.
 */
import { readFileSync } from 'node:fs';

export const HOOK_FILE_NAME = 'pve-usb-gadget-hook.cjs';
export const DEFAULT_HOOKSCRIPT = `local:snippets/${HOOK_FILE_NAME}`;
export const HOOKSCRIPT_RECORD = '/etc/pve-usb-gadget/hookscript';

const VOLID = /^[A-Za-z][A-Za-z0-9._-]*:snippets\/[A-Za-z0-9._-]+$/;

export function isHookscriptVolid(v: string): boolean {
  return VOLID.test(v);
}

/** A hookscript value that names our hook file on any storage (what disable may remove). */
export function isOurHookscript(value: string | undefined): boolean {
  return value !== undefined && VOLID.test(value) && value.endsWith(`:snippets/${HOOK_FILE_NAME}`);
}

/** The volume id install.sh recorded, else the default; `read` is a seam for tests. */
export function installedHookscript(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): string {
  try {
    const v = read(HOOKSCRIPT_RECORD).trim();
    return VOLID.test(v) ? v : DEFAULT_HOOKSCRIPT;
  } catch {
    return DEFAULT_HOOKSCRIPT;
  }
}
