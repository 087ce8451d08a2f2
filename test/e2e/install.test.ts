/**
 * install.sh on a real kernel: one VM run (test/e2e/guest/install-main.ts) installs on a one-node
 * "Proxmox VE" (fake API, stand-ins for pveversion/pveum/pvesm/qm), builds dummy_hcd with DKMS from
 * Debian's source of the test kernel, boots the nested guest from a stick through that module, disables,
 * uninstalls and compares the file list before and after.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleForVm } from './harness/bundle.js';
import { FLAVOUR, lit, NODE, seriesOfRelease } from './harness/flavour.js';
import { cachePaths, runInVm, type VmRun } from './harness/vm.js';

/** the test kernel (6.1.0-50-amd64 or 6.12.118+deb13-amd64) and its series (6.1, 6.12), as regex sources */
const KVER = lit(cachePaths().kernelVersion);
const SERIES = lit(seriesOfRelease(cachePaths().kernelVersion));

const STANDINS = ['pveversion', 'pveum', 'pvesm', 'qm'];
/** what the hook and the scenario load: the gadget side, the host's usb-storage, configfs */
const MODULES = ['dummy_hcd', 'libcomposite', 'usb_f_mass_storage', 'usb_storage', 'configfs'];

function script(entry: string): string {
  return `set -eu
kver=$(uname -r)
M=/lib/modules/$kver
# DKMS installs into /lib/modules/<kernel> and runs depmod there, but here that is a read-only 9p share of
# 4000 modules (depmod over 9p under TCG takes minutes). Give it a writable copy of just the modules this
# test loads (with their dependencies), plus the kernel's module lists: a small real /lib/modules.
T=/run/modules-$kver
mkdir -p $T
cp $M/modules.order $M/modules.builtin $M/modules.builtin.modinfo $T/
for mod in ${MODULES.join(' ')}; do
  modprobe --show-depends $mod | awk '$1 == "insmod" { print $2 }'
done | sort -u | while read -r ko; do
  mkdir -p "$T/$(dirname "\${ko#$M/}")"
  cp "$ko" "$T/\${ko#$M/}"
done
ls $T/kernel/drivers/usb/gadget/udc/dummy_hcd.ko* >/dev/null # .ko.xz on trixie
# what linux-headers-$kver links on a real root
ln -s /usr/src/linux-headers-$kver $T/build
mount --bind $T $M
depmod $kver
# as udev does on a real host: bash's <(...) (DKMS uses it) needs /dev/fd
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
# the Proxmox node name is the host name; the fake cluster's node is "pve"
hostname pve
for t in ${STANDINS.join(' ')}; do install -m 0755 /project/test/e2e/guest/pve-standins/$t /usr/local/bin/$t; done
exec node ${entry} /results/facts.json
`;
}

describe('install.sh on a Proxmox VE node (real kernel, DKMS)', () => {
  let run: VmRun;
  let f: Record<string, any> = {};

  beforeAll(async () => {
    const entry = await bundleForVm('test/e2e/guest/install-main.ts', 'install-main');
    run = await runInVm({ script: script(entry), timeoutMs: 1_200_000, memMb: 3072 });
    f = JSON.parse(await readFile(join(run.resultsDir, 'facts.json'), 'utf8').catch(() => '{}')) as Record<string, any>;
    const dkms = /with DKMS for kernel \S+ in (\d+) s/.exec(f.install?.stdout ?? '')?.[1];
    const s = (ms: number | undefined) => (ms === undefined ? '?' : `${Math.round(ms / 1000)} s`);
    console.log(
      `install VM run ${s(run.durationMs)}: install.sh ${s(f.install?.ms)} (DKMS build ${dkms ?? '?'} s), again ${s(f.again?.ms)}, ` +
        `enable ${s(f.enable?.ms)}, pre-start ${s(f.start?.hooks?.[0]?.ms)}, guest boot ${s(f.boot?.ms)}, disable ${s(f.disable?.ms)}, uninstall ${s(f.uninstall?.ms)}`,
    );
    await rm(run.resultsDir, { recursive: true, force: true });
  });

  it('ran to the end on the real kernel', () => {
    expect(run.exitCode, run.output).toBe(0);
    expect(f.uninstall, 'the scenario did not get to the uninstall').toBeDefined();
  });

  it('refuses Proxmox VE 7 with the reason, before changing anything', () => {
    expect(f.pve7.code).toBe(1);
    expect(f.pve7.stderr).toMatch(/Proxmox VE 7 is not supported: USB resource mappings need Proxmox VE 8.0 or later/);
  });

  describe('install', () => {
    const out = () => `${f.install.stdout}${f.install.stderr}`;
    it('succeeds, with Debian\'s node already there (no apt)', () => {
      expect(f.install.code, out()).toBe(0);
      expect(out()).toMatch(new RegExp(`node v${lit(NODE[FLAVOUR].text)}\\.\\d+ is there`));
      expect(out()).not.toMatch(/apt-get install/);
    });
    it('builds dummy_hcd with DKMS from the kernel source and reports its scheduler', () => {
      // the lines about the module, whole, for a failure's message (vitest cuts long strings)
      const moduleLines = out().split('\n').filter((l) => /dummy_hcd|DKMS|scheduler/.test(l)).join('\n');
      expect(out(), moduleLines).toMatch(new RegExp(`dummy_hcd built for ${KVER} from Linux ${SERIES}\\.\\d+ \\(/usr/src/pvug-kernel-source\\), hrtimer scheduler \\(DKMS pve-usb-gadget-dummy-hcd/${SERIES}\\.\\d+-k${SERIES}\\)`));
      expect(out(), moduleLines).toMatch(new RegExp(`built dummy_hcd with DKMS for kernel ${KVER} in \\d+ s`));
      expect(out(), moduleLines).toMatch(/uses the hrtimer transfer scheduler/);
      // trixie's DKMS compresses the module as the kernel's own are
      expect(f.modulesAfterInstall.modprobePath, JSON.stringify(f.modulesAfterInstall)).toMatch(/\/updates\/dkms\/dummy_hcd\.ko(\.xz|\.zst)?$/);
      expect(f.modulesAfterInstall.modprobeIntree).toBe('');
    });
    it('installs the kernel hooks that build dummy_hcd for later kernels', () => {
      expect(out()).toMatch(/installed the kernel hooks \(\/etc\/kernel\/postinst\.d\/pve-usb-gadget \/etc\/kernel\/header_postinst\.d\/pve-usb-gadget, \/etc\/kernel\/postrm\.d\/pve-usb-gadget, \/etc\/apt\/apt\.conf\.d\/99pve-usb-gadget\)/);
      expect(f.kernelHook.mode).toBe('755');
      expect(f.kernelHook.text).toContain('kernel-module --kernel "$version" --from-kernel-hook');
    });
    it('installs CLI, hook (executable, snippets enabled) and modprobe options', () => {
      expect(f.hook.mode).toBe('755');
      expect(f.storageCfgInstalled).toContain('content iso,vztmpl,backup,snippets');
      expect(f.modprobeConf).toMatch(/^options dummy_hcd num=4 is_high_speed=1 is_super_speed=1$/m);
    });
    it('creates role, user, privilege-separated token and ACLs with exactly the listed privileges', () => {
      // Mapping.Use only VM by VM (UsbGadgetUse, granted by enable): never on all of /mapping/usb
      expect(f.apiState.roles).toEqual({ UsbGadget: ['Mapping.Modify', 'VM.Audit', 'VM.Config.HWType', 'VM.Config.Options'], UsbGadgetUse: ['Mapping.Use'] });
      expect(f.apiState.users).toEqual(['pve-usb-gadget@pve']);
      const acl = f.apiState.acls.map((a: any) => `${a.path} ${a.kind} ${a.id} ${a.role}`).sort();
      expect(acl).toEqual([
        '/mapping/usb token pve-usb-gadget@pve!hook UsbGadget',
        '/mapping/usb user pve-usb-gadget@pve UsbGadget',
        '/vms token pve-usb-gadget@pve!hook UsbGadget',
        '/vms user pve-usb-gadget@pve UsbGadget',
      ]);
    });
    it('stores the secret root-only under /etc/pve/priv and never prints it', () => {
      expect(f.secret).toEqual({ uuid: true, mode: '600', uid: 0 });
      expect(f.secretShown).toBe(false);
      expect(f.settings).toMatch(/^\[api\]$/m);
      expect(f.settings).toMatch(/^token_id = pve-usb-gadget@pve!hook$/m);
      expect(f.settings).toMatch(/^secret_file = \/etc\/pve\/priv\/pve-usb-gadget\/token\.secret$/m);
      expect(f.settings).toMatch(/^controllers = 4$/m);
    });
    it('is idempotent: a second run builds, creates and enables nothing', () => {
      expect(f.again.code, f.again.stderr).toBe(0);
      expect(f.again.stdout).toMatch(new RegExp(`dummy_hcd is already built for ${KVER} \\(DKMS pve-usb-gadget-dummy-hcd/${SERIES}\\.\\d+-k${SERIES}\\)`));
      expect(f.again.stdout).not.toMatch(/built dummy_hcd with DKMS|installed the kernel hooks|created|enabled the snippets|wrote/);
    });
    it('run again over an earlier release: the role loses Mapping.Use, each existing VM mapping gets its own grant', () => {
      expect(f.apiStateAgain.roles.UsbGadget).toEqual(['Mapping.Modify', 'VM.Audit', 'VM.Config.HWType', 'VM.Config.Options']);
      expect(f.again.stdout).toContain('granted pve-usb-gadget@pve!hook Mapping.Use on /mapping/usb/usb-gadget-150');
      const acl = f.apiStateAgain.acls.map((a: any) => `${a.path} ${a.kind} ${a.id} ${a.role}`).filter((a: string) => a.includes('usb-gadget-'));
      expect(acl.sort()).toEqual(['/mapping/usb/usb-gadget-150 token pve-usb-gadget@pve!hook UsbGadgetUse', '/mapping/usb/usb-gadget-150 user pve-usb-gadget@pve UsbGadgetUse']);
    });
    it('ends with doctor, which passes every check', () => {
      expect(out()).toMatch(/^ok +dummy_hcd scheduler: hrtimer \(DKMS build/m);
      expect(out()).toMatch(new RegExp(`^ok +kernel ${KVER} \\(running, boots next: the newest installed kernel\\): dummy_hcd: DKMS ${SERIES}\\.\\d+-k${SERIES} from Linux ${SERIES}\\.\\d+ \\(/usr/src/pvug-kernel-source\\), hrtimer scheduler`, 'm'));
      expect(out()).toMatch(/^ok +token privileges: has every privilege it needs$/m);
      expect(out()).not.toMatch(/^(WARN|FAIL) /m);
      expect(out()).toMatch(/next: run install.sh on every other node/);
    });
  });

  describe('enable, start, disable, start', () => {
    it('enable writes the notes section, usb0, boot order, mapping and hookscript', () => {
      expect(f.enable.code, f.enable.stderr).toBe(0);
      expect(f.configEnabled.description).toMatch(/^unRAID test box\.\n\nBackups: nightly\.\n\n```\n\[usb-gadget\]\nimage = \/var\/lib\/vz\/usb-gadget\/vm100\.img\nvendor_id = 0x0781\nproduct_id = 0x5571\nserial = [0-9A-F]{16}\n```$/);
      expect(f.configEnabled.usb0).toBe('mapping=usb-gadget-100');
      expect(f.configEnabled.boot).toBe('order=usb0;net0');
      expect(f.mappingEnabled.map).toEqual(['node=pve,id=0781:5571']);
      expect(f.qmConfigEnabled).toMatch(/^hookscript: local:snippets\/pve-usb-gadget-hook\.cjs$/m);
    });
    it('enable grants the token Mapping.Use on usb-gadget-100 only; disable takes it back', () => {
      expect(f.enable.stdout).toContain('VM 100: Mapping.Use on /mapping/usb/usb-gadget-100 for pve-usb-gadget@pve!hook');
      const ours = (acls: any[]) => acls.map((a) => `${a.path} ${a.kind} ${a.role}`).filter((a) => a.includes('usb-gadget-100')).sort();
      expect(ours(f.aclsEnabled)).toEqual(['/mapping/usb/usb-gadget-100 token UsbGadgetUse', '/mapping/usb/usb-gadget-100 user UsbGadgetUse']);
      expect(ours(f.aclsDisabled)).toEqual([]);
      expect(f.disable.stdout).toContain('removed Mapping.Use on /mapping/usb/usb-gadget-100');
    });
    it('the nested guest boots from the stick, through the DKMS-built dummy_hcd', () => {
      expect(f.start.started, f.start.error).toBe(true);
      expect(f.start.usbDevices).toEqual(['0781:5571']);
      expect(f.boot.found, f.boot.serial).toBe(true);
      // out-of-tree (O) taint: the module the kernel runs is the DKMS build, not the stock one
      expect(f.modulesDuringStart.loaded).toBe(true);
      expect(f.modulesDuringStart.taint).toMatch(/O/);
      expect(f.stop[1].code, f.stop[1].stderr).toBe(0);
    });
    it('uninstall refuses while a VM still uses the hook, and changes nothing', () => {
      expect(f.uninstallRefused.code).toBe(1);
      expect(f.uninstallRefused.stderr).toMatch(/VMs on this node still use the hook: 100; run 'pve-usb-gadget disable <vmid>'/);
      expect(f.hookAfterRefusal).toBe(true);
    });
    it('disable gives the VM config back as it was before enable', () => {
      expect(f.disable.code, f.disable.stderr).toBe(0);
      expect(f.configDisabled).toEqual(f.configBefore);
      expect(f.qmConfigDisabled).not.toMatch(/^hookscript:/m);
    });
    it('a start after disable runs without a stick', () => {
      expect(f.start2.started, f.start2.error).toBe(true);
      expect(f.start2.usbDevices).toEqual([]);
      expect(f.start2.hooks[0].stdout).toContain('no [usb-gadget] section in the notes: nothing to do');
    });
  });

  describe('uninstall', () => {
    it('succeeds and unloads the DKMS module', () => {
      expect(f.uninstall.code, `${f.uninstall.stdout}${f.uninstall.stderr}`).toBe(0);
      expect(f.modulesAfterUninstall.loaded).toBe(false);
      expect(f.modulesAfterUninstall.modprobePath).not.toMatch(/updates\/dkms/);
    });
    it('removes token, user, role, ACLs and the snippets content type it had added', () => {
      expect(f.apiStateAfter).toEqual({ roles: [], users: [], acls: [], mappings: [] });
      expect(f.storageCfgAfter).toBe(f.storageCfgBefore);
    });
    it('leaves no file behind but the image (and DKMS\'s own signing key)', () => {
      const allowed = (line: string) => line.startsWith(`${f.images} `) || line.startsWith(`${f.images}/vm100.img `) || /^\/var\/lib\/dkms\/mok\.(key|pub) /.test(line);
      expect(f.files.removed).toEqual([]);
      expect(f.files.added.filter((l: string) => !allowed(l))).toEqual([]);
      expect(f.files.added.some((l: string) => l.startsWith(`${f.images}/vm100.img `))).toBe(true);
    });
  });
});
