import type { HostFs } from '../ports/host-fs.js';

export const QUIRKS_PARAM = '/sys/module/usb_storage/parameters/quirks';
/** the kernel's buffer is char[128]: 127 characters and the terminating NUL */
export const QUIRKS_MAX = 127;

/** The quirk entry that makes usb-storage ignore a VID:PID ("0781:5571:i"). */
export function ignoreEntry(usbId: string): string {
  return `${usbId.toLowerCase()}:i`;
}

function entries(list: string): string[] {
  return list
    .trim()
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
}

const idOf = (entry: string) => entry.split(':').slice(0, 2).join(':').toLowerCase();

/**
 * Add our ignore entry for usbId. Any other entry for the same VID:PID is replaced (ours must win);
 * everyone else's entries stay as they are.
 */
export function withIgnore(list: string, usbId: string): string {
  const id = usbId.toLowerCase();
  return [...entries(list).filter((e) => idOf(e) !== id), ignoreEntry(id)].join(',');
}

/** Remove exactly our entry for usbId; keep everything else, including other flags for that id. */
export function withoutIgnore(list: string, usbId: string): string {
  const ours = ignoreEntry(usbId);
  return entries(list)
    .filter((e) => e.toLowerCase() !== ours)
    .join(',');
}

export function readQuirks(fs: HostFs): string | undefined {
  return fs.readTextIfExists(QUIRKS_PARAM)?.trim();
}

/**
 * Append our entry. Returns false (and changes nothing) when the kernel's 128-byte buffer would
 * overflow. Caller holds the host lock.
 */
export function addIgnoreQuirk(fs: HostFs, usbId: string): boolean {
  const next = withIgnore(readQuirks(fs) ?? '', usbId);
  if (next.length > QUIRKS_MAX) return false;
  fs.write(QUIRKS_PARAM, next);
  return true;
}

export function removeIgnoreQuirk(fs: HostFs, usbId: string): boolean {
  const current = readQuirks(fs);
  if (current === undefined) return false;
  const next = withoutIgnore(current, usbId);
  if (next === entries(current).join(',')) return false;
  // an empty write(2) would not reach the kernel: a lone newline clears the list
  fs.write(QUIRKS_PARAM, next === '' ? '\n' : next);
  return true;
}
