/**
 * Installing our hook as the node's vzdump script without losing the admin's. vzdump reads the
 * node-wide `script:` from /etc/vzdump.conf (pve-manager PVE/VZDump.pm read_vzdump_defaults, parsed by
 * PVE::JSONSchema::parse_config: `key: value` lines, `#` comments); a job's own `script` option
 * overrides it for that job (then our hook does not run for it: doctor's business).
 *
 * install: no active `script:` line: add ours. One naming another script: replace it with ours and
 * hand back theirs, which the caller records in the chain file (chain.ts) *before* writing the
 * config, so theirs is never dropped. Ours already: nothing. More than one: refuse (ambiguous).
 * uninstall: a `script:` naming ours goes back to the recorded one, or goes; anything else is the
 * admin's since and stays.
 * Pure text in, text out: the caller writes atomically.
 */

const SCRIPT_LINE = /^\s*script:\s*(.*?)\s*$/;

export type InstallEdit = { text: string; previous?: string; changed: boolean } | { error: string };

function scriptLines(lines: readonly string[]): number[] {
  return lines.flatMap((l, i) => (SCRIPT_LINE.test(l) && !/^\s*#/.test(l) ? [i] : []));
}

export function installScript(text: string, ours: string): InstallEdit {
  const lines = text.split('\n');
  const at = scriptLines(lines);
  if (at.length > 1) return { error: `/etc/vzdump.conf sets script: ${at.length} times; leave one and run again` };
  if (at.length === 0) {
    const body = text === '' || text.endsWith('\n') ? text : `${text}\n`;
    return { text: `${body}script: ${ours}\n`, changed: true };
  }
  const i = at[0] as number;
  const current = (SCRIPT_LINE.exec(lines[i] as string) as RegExpExecArray)[1] ?? '';
  if (current === ours) return { text, changed: false };
  if (!current.startsWith('/')) return { error: `/etc/vzdump.conf script: '${current.slice(0, 80)}' is not an absolute path; fix it and run again` };
  lines[i] = `script: ${ours}`;
  return { text: lines.join('\n'), previous: current, changed: true };
}

export type UninstallEdit = { text: string; changed: boolean; note?: string };

export function uninstallScript(text: string, ours: string, previous: string | undefined): UninstallEdit {
  const lines = text.split('\n');
  const at = scriptLines(lines).filter((i) => (SCRIPT_LINE.exec(lines[i] as string) as RegExpExecArray)[1] === ours);
  if (at.length === 0) {
    return { text, changed: false, note: scriptLines(lines).length > 0 ? 'the vzdump script was changed since install; left as it is' : undefined };
  }
  for (const i of at.reverse()) {
    if (previous !== undefined) lines[i] = `script: ${previous}`;
    else lines.splice(i, 1);
  }
  return { text: lines.join('\n'), changed: true };
}
