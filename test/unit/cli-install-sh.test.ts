// install.sh's own checks and the settings file it writes, run for real (no root needed for these):
// the rendered templates/settings.ini must load with the hook's settings parser, so a change of the
// template cannot silently break what the installer writes. And where install.sh calls the CLI's setup
// commands, that they exist and run while the CLI is there.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HOOK_FILE_NAME } from '../../src/cli/hookscript.js';
import { CLUSTER_DIR, CLUSTER_STATE, SECRET_FILE } from '../../src/cli/setup-records.js';
import { parseSettings } from '../../src/settings/parse.js';

const INSTALL = resolve(__dirname, '../../install.sh');
const sh = (...args: string[]) => spawnSync('bash', [INSTALL, ...args], { encoding: 'utf8' });

/**
 * install.sh --print-settings runs the CLI next to it (dist/cli.cjs, which a checkout builds): here a
 * copy of install.sh beside a dist/cli.cjs that runs src/cli/main.ts with tsx, so no build is needed.
 */
function printSettings(...args: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'pvug-install-'));
  try {
    mkdirSync(join(dir, 'dist'));
    mkdirSync(join(dir, 'templates'));
    copyFileSync(INSTALL, join(dir, 'install.sh'));
    copyFileSync(resolve(__dirname, '../../templates/settings.ini'), join(dir, 'templates/settings.ini'));
    const tsx = resolve(__dirname, '../../node_modules/.bin/tsx');
    const main = resolve(__dirname, '../../src/cli/main.ts');
    writeFileSync(join(dir, 'dist/cli.cjs'), `const r = require('node:child_process').spawnSync(${JSON.stringify(tsx)}, [${JSON.stringify(main)}, ...process.argv.slice(2)], { stdio: 'inherit' });\nprocess.exit(r.status ?? 1);\n`);
    return execFileSync('bash', [join(dir, 'install.sh'), '--print-settings', ...args], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('install.sh', () => {
  it('renders settings the hook loads, with the token, the cluster-wide secret and the CA', () => {
    const text = printSettings('--controllers', '12', '--api-url', 'https://127.0.0.1:8006');
    const s = parseSettings(text, 'rendered', 'pve1');
    expect(s.api).toEqual({
      url: 'https://127.0.0.1:8006',
      tokenId: 'pve-usb-gadget@pve!hook',
      secretFile: '/etc/pve/priv/pve-usb-gadget/token.secret',
      caFile: '/etc/pve/pve-root-ca.pem',
    });
    expect(s.modules.controllers).toBe(12);
    expect(s.node).toBe('pve1');
  });

  it('renders settings without [api] for --no-api', () => {
    const s = parseSettings(printSettings('--no-api'), 'rendered', 'pve1');
    expect(s.api).toBeUndefined();
    expect(s.modules.controllers).toBe(8);
  });

  it('refuses bad options before doing anything', () => {
    expect(sh('--controllers', '33').stderr).toMatch(/--controllers must be 1..32/);
    expect(sh('--storage', 'a b').stderr).toMatch(/not a storage id/);
    expect(sh('--api-url', 'http://127.0.0.1:8006').stderr).toMatch(/--api-url must be https/);
    const r = sh('--frobnicate');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown option: --frobnicate/);
    expect(sh('--help').status).toBe(0);
  });
});

describe('install.sh and the CLI agree', () => {
  it('keeps bash copies of only the names it needs before the CLI runs, equal to setup-records.ts', () => {
    const text = readFileSync(INSTALL, 'utf8');
    const names = ['CLUSTER_DIR', 'SECRET', 'CLUSTER_STATE'];
    const defs = text.split('\n').filter((l) => names.some((n) => l.startsWith(`readonly ${n}=`)));
    const values = execFileSync('bash', ['-c', `${defs.join('\n')}\nprintf '%s\\n' ${names.map((n) => `"$${n}"`).join(' ')}`], { encoding: 'utf8' });
    expect(values.split('\n').slice(0, 3)).toEqual([CLUSTER_DIR, SECRET_FILE, CLUSTER_STATE]);
    // the API user, token, roles and their privileges are setup api's (src/cli/setup-api.ts) alone
    for (const gone of ['API_USER', 'TOKEN_ID', 'ROLE', 'ROLE_PRIVS', 'USE_ROLE', 'ACL_PATHS', 'json_has']) expect(text).not.toMatch(new RegExp(`\\b${gone}\\b`));
    expect(text).not.toMatch(/^\s+pveum /m);
    expect(text).toContain('cli_report setup api "${show[@]}"');
    expect(text).toContain('cli_report setup api --remove "${purge[@]}"');
  });

  it('grants the per-mapping ACLs after the settings, and removes them while the CLI is still there', () => {
    const text = readFileSync(INSTALL, 'utf8');
    const install = text.slice(text.indexOf('do_install() {'), text.indexOf('# --- uninstall'));
    expect(install.indexOf('write_settings\n')).toBeLessThan(install.indexOf('ensure_mapping_acls\n'));
    const uninstall = text.slice(text.indexOf('do_uninstall() {'), text.indexOf('uninstall_cluster_parts() {'));
    expect(uninstall.indexOf('uninstall_cluster_parts\n')).toBeLessThan(uninstall.indexOf('rm -f "$CLI"'));
    // setup api --remove takes the per-mapping grants with the token, then the records go with CLUSTER_DIR
    const cluster = text.slice(text.indexOf('uninstall_cluster_parts() {'));
    expect(cluster.indexOf('setup api --remove')).toBeLessThan(cluster.indexOf('setup hook-storage --undo'));
    expect(cluster.indexOf('setup hook-storage --undo')).toBeLessThan(cluster.indexOf('rm -rf "$CLUSTER_DIR"'));
  });
  it('enables the hook file name the CLI sets as hookscript', () => {
    expect(readFileSync(INSTALL, 'utf8')).toContain(`readonly HOOK_NAME=${HOOK_FILE_NAME}\n`);
  });

  it('installs the vzdump hook after the settings and undoes it while the CLI is still there', () => {
    const text = readFileSync(INSTALL, 'utf8');
    const install = text.slice(text.indexOf('do_install() {'), text.indexOf('# --- uninstall'));
    expect(install.indexOf('write_settings\n')).toBeLessThan(install.indexOf('install_vzdump_hook\n'));
    expect(text).toContain('"$CLI" backup install-hook --cli "$CLI"');
    const uninstall = text.slice(text.indexOf('do_uninstall() {'));
    expect(uninstall.indexOf('uninstall_vzdump_hook')).toBeGreaterThan(0);
    expect(uninstall.indexOf('uninstall_vzdump_hook')).toBeLessThan(uninstall.indexOf('rm -f "$CLI"'));
    expect(uninstall.indexOf('uninstall_vzdump_hook')).toBeLessThan(uninstall.indexOf('rm -rf "$ETC"'));
    // the commands it calls exist with these names
    const cli = readFileSync(resolve(__dirname, '../../src/cli/backup.ts'), 'utf8');
    expect(cli).toContain(".command('install-hook')");
    expect(cli).toContain(".command('uninstall-hook')");
  });

  it('runs the setup commands while the CLI is installed, and reads their lines', () => {
    const text = readFileSync(INSTALL, 'utf8');
    const install = text.slice(text.indexOf('do_install() {'), text.indexOf('# --- uninstall'));
    expect(install.indexOf('prepare_node\n')).toBeLessThan(install.indexOf('install_hook\n'));
    expect(text).toContain('cli_report setup hook-storage --storage "$STORAGE"');
    expect(text).toContain('cli_report --settings "$SETTINGS" setup settings "${SETTINGS_ARGS[@]}"');
    const uninstall = text.slice(text.indexOf('do_uninstall() {'));
    // the check comes before anything is removed; the CLI goes after the cluster parts, which --undo the storage
    expect(uninstall.indexOf('cli_report setup uninstall-check')).toBeLessThan(uninstall.indexOf('rm -f "$hook"'));
    expect(uninstall.indexOf('uninstall_cluster_parts\n')).toBeLessThan(uninstall.indexOf('rm -f "$CLI"'));
    expect(text.slice(text.indexOf('uninstall_cluster_parts() {'))).toContain('cli_report setup hook-storage --undo');
    const setup = readFileSync(resolve(__dirname, '../../src/cli/setup.ts'), 'utf8');
    for (const f of ['setup-settings', 'setup-hook-storage', 'setup-uninstall-check', 'setup-api']) expect(setup).toContain(`from './${f}.js'`);
    const fn = (name: string) => text.match(new RegExp(`^${name}\\(\\) \\{[\\s\\S]*?^\\}$`, 'm'))?.[0] ?? '';
    const script = `set -euo pipefail\nsay() { echo "say $*"; }\nwarn() { echo "warn $*"; }\nDONE=()\ndone_() { DONE+=("$*"); say "$*"; }
cli() { printf 'changed: enabled x\\nok: up to date\\nsnippets-dir: /var/lib/vz/snippets\\ncluster-kept: pve2 pve3\\nother line\\ntoken secret (shown once, as asked): s3cr3t\\n'; return 3; }
${fn('cli_report')}
rc=0; cli_report setup x || rc=$?
echo "rc=$rc dir=$SNIPPETS_DIR kept=$CLUSTER_KEPT done=\${DONE[*]}"`;
    expect(execFileSync('bash', ['-c', script], { encoding: 'utf8' }).split('\n')).toEqual([
      'say enabled x',
      'say up to date',
      'say other line',
      'token secret (shown once, as asked): s3cr3t',
      'rc=3 dir=/var/lib/vz/snippets kept=pve2 pve3 done=enabled x',
      '',
    ]);
  });

  it('takes the cluster parts away only when setup api --remove keeps nothing, and stops when it fails', () => {
    const text = readFileSync(INSTALL, 'utf8');
    const fn = (name: string) => text.match(new RegExp(`^${name}\\(\\) \\{[\\s\\S]*?^\\}$`, 'm'))?.[0] ?? '';
    const dir = mkdtempSync(join(tmpdir(), 'pvug-cluster-'));
    try {
      const run = (api: string) =>
        spawnSync('bash', ['-c', `set -euo pipefail\nCLUSTER_DIR=${dir} CLUSTER_STATE=${dir}/created PURGE_CLUSTER=1\nsay() { echo "say $*"; }\nwarn() { echo "warn $*"; }
die() { echo "die $*"; exit 1; }\nDONE=()\ndone_() { DONE+=("$*"); say "$*"; }\ncli() { echo "cli $*" >&2; case $2 in api) ${api} ;; esac; }
${fn('cli_report')}\n${fn('uninstall_cluster_parts')}\nuninstall_cluster_parts`], { encoding: 'utf8' });
      const kept = run("echo 'ok: kept them'; echo 'cluster-kept: pve2'");
      expect([kept.status, kept.stdout, kept.stderr]).toEqual([0, 'say kept them\n', 'cli setup api --remove --purge-cluster\n']);
      const failed = run('return 1');
      expect([failed.status, failed.stdout]).toEqual([1, 'die could not remove the API user, token and roles (see above); run install.sh --uninstall again\n']);
      const last = run("echo 'changed: removed user u'");
      expect(last.stderr).toBe('cli setup api --remove --purge-cluster\ncli setup hook-storage --undo\n');
      expect(last.stdout).toBe(`say removed user u\nsay removed ${dir} (token secret)\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("tells a compressed module's scheduler every time, whatever the pipe timing (no grep -q under pipefail)", () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvug-sched-'));
    try {
      // the symbol early, then megabytes of short lines: `xz -dc | grep -q` exits on the match and xz dies of SIGPIPE
      const body = Buffer.concat([Buffer.from('\0hrtimer_start_range_ns\n'), Buffer.from('x\n'.repeat(4 << 20))]);
      writeFileSync(join(dir, 'dummy_hcd.ko'), body);
      execFileSync('xz', ['-1', '-k', join(dir, 'dummy_hcd.ko')]);
      const fn = readFileSync(INSTALL, 'utf8').match(/^scheduler_of_module\(\) \{[\s\S]*?^\}$/m)?.[0];
      expect(fn).toBeDefined();
      const script = `set -euo pipefail\n${fn}\nfor i in 1 2 3 4 5 6 7 8 9 10; do scheduler_of_module "$1"; done`;
      const out = execFileSync('bash', ['-c', script, 'sched', join(dir, 'dummy_hcd.ko.xz')], { encoding: 'utf8' });
      expect(out.trim().split('\n')).toEqual(Array(10).fill('hrtimer'));
      writeFileSync(join(dir, 'old.ko'), Buffer.concat([Buffer.alloc(1 << 20), Buffer.from('mod_timer')]));
      expect(execFileSync('bash', ['-c', `set -euo pipefail\n${fn}\nscheduler_of_module "$1"`, 'sched', join(dir, 'old.ko')], { encoding: 'utf8' }).trim()).toBe('jiffies');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
