// install-hook / uninstall-hook against a temp root: the admin's vzdump script is recorded before
// /etc/vzdump.conf points at ours, and comes back on uninstall; then chaining runs it for real.
import { chmodSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runChained } from '../../src/backup/chain.js';
import { installHook, uninstallHook } from '../../src/backup/install-hook.js';
import { spawnScript } from '../../src/backup/run-script.js';
import { installScript, uninstallScript } from '../../src/backup/vzdump-conf.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const roots: TmpRoot[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) r.remove();
});

const W = '/usr/local/lib/pve-usb-gadget/vzdump-hook';

describe('vzdump.conf edits', () => {
  it('adds, replaces (handing back theirs), keeps, refuses ambiguity, and undoes', () => {
    expect(installScript('#script: FILENAME\nmode: snapshot', W)).toEqual({ text: `#script: FILENAME\nmode: snapshot\nscript: ${W}\n`, changed: true });
    expect(installScript('script: /root/mine.sh\nmode: stop\n', W)).toEqual({ text: `script: ${W}\nmode: stop\n`, previous: '/root/mine.sh', changed: true });
    expect(installScript(`script: ${W}\n`, W)).toEqual({ text: `script: ${W}\n`, changed: false });
    expect(installScript('script: /a\nscript: /b\n', W)).toMatchObject({ error: expect.stringMatching(/2 times/) });
    expect(installScript('script: relative.sh\n', W)).toMatchObject({ error: expect.stringMatching(/not an absolute path/) });
    expect(uninstallScript(`script: ${W}\nmode: stop\n`, W, '/root/mine.sh').text).toBe('script: /root/mine.sh\nmode: stop\n');
    expect(uninstallScript(`mode: stop\nscript: ${W}\n`, W, undefined).text).toBe('mode: stop\n');
    expect(uninstallScript('script: /root/other.sh\n', W, '/root/mine.sh')).toMatchObject({ changed: false, note: expect.stringMatching(/changed since install/) });
  });
});

describe('install-hook and uninstall-hook', () => {
  it('a node without /etc/vzdump.conf: install creates it, uninstall removes it again (nothing left behind)', () => {
    const t = tmpRoot('pvug-hookinst-');
    roots.push(t);
    expect(installHook(t.fs, { cli: '/usr/local/sbin/pve-usb-gadget' })).toEqual([`wrote ${W}`, `set script: ${W} in /etc/vzdump.conf`]);
    expect(readFileSync(join(t.root, 'etc/vzdump.conf'), 'utf8')).toBe(`script: ${W}\n`);
    expect(uninstallHook(t.fs, {})).toEqual(['removed /etc/vzdump.conf (install had created it)', `removed ${W}`, 'removed /etc/pve-usb-gadget/vzdump-conf-created']);
    expect(t.fs.exists('/etc/vzdump.conf')).toBe(false);
  });

  it('records the admin script, installs the wrapper, chains to it, and restores it', async () => {
    const t = tmpRoot('pvug-hookinst-');
    roots.push(t);
    t.put('/etc/vzdump.conf', '# vzdump default settings\nscript: /root/mine.sh\nmode: snapshot\n');
    t.put('/root/mine.sh', '#!/bin/sh\necho "mine $1" > "$OUT"\nexit 5\n');
    chmodSync(join(t.root, 'root/mine.sh'), 0o755);
    const did = installHook(t.fs, { cli: '/usr/local/sbin/pve-usb-gadget' });
    expect(did).toEqual([
      `wrote ${W}`,
      'recorded the previous vzdump script /root/mine.sh in /etc/pve-usb-gadget/vzdump-chain: it keeps running, before ours',
      `set script: ${W} in /etc/vzdump.conf`,
    ]);
    expect(readFileSync(join(t.root, 'etc/vzdump.conf'), 'utf8')).toBe(`# vzdump default settings\nscript: ${W}\nmode: snapshot\n`);
    expect(readFileSync(join(t.root, W), 'utf8')).toMatch(/^#!\/bin\/sh\n[^]*exec \/usr\/local\/sbin\/pve-usb-gadget vzdump-hook "\$@"\n$/);
    expect(statSync(join(t.root, W)).mode & 0o777).toBe(0o755);
    // run again: nothing to do, theirs is still recorded
    expect(installHook(t.fs, { cli: '/usr/local/sbin/pve-usb-gadget' })).toEqual([]);
    const out = join(t.root, 'out');
    const said: string[] = [];
    const r = await runChained({ fs: t.fs, run: spawnScript, trustedUids: [process.getuid?.() ?? 0], say: (l) => void said.push(l) }, ['job-start'], { OUT: out });
    expect(r).toEqual({ chained: true, script: '/root/mine.sh', exitCode: 5 });
    expect(readFileSync(out, 'utf8')).toBe('mine job-start\n');
    expect(uninstallHook(t.fs, {})).toEqual([
      'restored script: /root/mine.sh in /etc/vzdump.conf',
      'removed /etc/pve-usb-gadget/vzdump-chain',
      `removed ${W}`,
    ]);
    expect(readFileSync(join(t.root, 'etc/vzdump.conf'), 'utf8')).toBe('# vzdump default settings\nscript: /root/mine.sh\nmode: snapshot\n');
  });

  it('refuses a CLI path a shell would interpret, before writing anything', () => {
    const t = tmpRoot('pvug-hookinst-');
    roots.push(t);
    expect(() => installHook(t.fs, { cli: '/usr/bin/x; rm -rf /' })).toThrow(/characters a shell would read/);
    expect(t.fs.exists('/etc/vzdump.conf')).toBe(false);
  });
});
