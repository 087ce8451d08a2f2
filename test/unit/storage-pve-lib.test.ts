// The Perl program that asks PVE::Storage to activate, map and deactivate volumes: run for real with
// perl against the test stand-in of PVE::Storage, and its answers and failures as the hook sees them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { CommandError } from '../../src/errors.js';
import type { Exec } from '../../src/ports/exec.js';
import { activateVolume, deactivateVolume, parsePveLibOutput, pveLibArgs, PERL } from '../../src/storage/pve-lib.js';

const STUB = resolve(__dirname, '../e2e/guest/pve-storage-stub');
const dir = mkdtempSync(join(tmpdir(), 'pvug-pvelib-'));
const cfg = join(dir, 'storage.cfg');
const log = join(dir, 'calls.log');
writeFileSync(
  cfg,
  `dir: local\n\tpath ${dir}/vz\n\tcontent images,iso\n\nlvm: usb-lvm\n\tvgname pvugvg\n\tcontent images\n\nrbd: ceph\n\tpool vms\n\tcontent images\n\ndir: off\n\tpath /srv\n\tdisable\n`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** execa like the hook's, with the stand-in on PERL5LIB; records each call */
const calls: { file: string; args: readonly string[] }[] = [];
const perlExec: Exec = async (file, args) => {
  calls.push({ file, args });
  const r = await execa(file, args, {
    reject: false,
    env: { LC_ALL: 'C', PERL5LIB: STUB, PVUG_STUB_STORAGE_CFG: cfg, PVUG_STUB_LOG: log },
    extendEnv: false,
  });
  return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
};
const stubCalls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : []);

describe('the PVE::Storage program (real perl, stand-in module)', () => {
  it('runs /usr/bin/perl with the volume id after "--", never inside the program', () => {
    const args = pveLibArgs('activate', 'local:100/vm-100-usb.raw');
    expect(args.slice(0, 1)).toEqual(['-e']);
    expect(args.slice(2)).toEqual(['--', 'activate', 'local:100/vm-100-usb.raw']);
    expect(args[1]).not.toContain('vm-100-usb');
    expect(PERL).toBe('/usr/bin/perl');
  });

  it('activates an LVM volume and answers its path, type and format', async () => {
    const a = await activateVolume(perlExec, 'usb-lvm:vm-100-usb');
    expect(a).toEqual({ path: '/dev/pvugvg/vm-100-usb', type: 'lvm', format: 'raw' });
    expect(stubCalls()).toContain('activate\tusb-lvm:vm-100-usb');
    expect(calls.at(-1)?.file).toBe('/usr/bin/perl');
  });

  it('refuses a qcow2 volume before activating it, naming the format', async () => {
    const before = stubCalls().length;
    const err = (await activateVolume(perlExec, 'local:100/vm-100-disk-0.qcow2').catch((e: unknown) => e)) as CommandError;
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).message).toContain('volume local:100/vm-100-disk-0.qcow2 is qcow2, only raw volumes can back a USB stick');
    expect(stubCalls().length).toBe(before);
  });

  it('passes PVE’s own refusals on (disabled storage, missing volume) with a fix', async () => {
    const off = (await activateVolume(perlExec, 'off:100/vm-100-x.raw').catch((e: unknown) => e)) as CommandError;
    expect(off.message).toContain("storage 'off' is disabled");
    expect(off.fix).toContain('pvesm list off');
    const missing = (await activateVolume(perlExec, 'local:100/vm-100-none.raw').catch((e: unknown) => e)) as CommandError;
    expect(missing.message).toContain("volume 'local:100/vm-100-none.raw' does not exist");
  });

  it('maps RBD volumes with map_volume, not activate_volumes', async () => {
    const err = (await activateVolume(perlExec, 'ceph:vm-100-usb').catch((e: unknown) => e)) as CommandError;
    expect(err.message).toContain('no Ceph cluster here');
    expect(stubCalls()).toContain('map\tceph:vm-100-usb');
    expect(stubCalls()).not.toContain('activate\tceph:vm-100-usb');
  });

  it('deactivates', async () => {
    await deactivateVolume(perlExec, 'usb-lvm:vm-100-usb');
    expect(stubCalls()).toContain('deactivate\tusb-lvm:vm-100-usb');
  });

  it('says what to do on a host without PVE::Storage', async () => {
    const bare: Exec = async (file, args) => {
      const r = await execa(file, args, { reject: false, env: { LC_ALL: 'C' }, extendEnv: false });
      return { exitCode: r.exitCode ?? 1, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const err = (await activateVolume(bare, 'local:100/vm-100-usb.raw').catch((e: unknown) => e)) as CommandError;
    expect(err.fix).toContain('need a Proxmox VE node');
  });
});

describe('parsePveLibOutput', () => {
  it('takes only its own lines, ignoring what PVE prints on the way', () => {
    const out = 'enable RBD image features this kernel RBD drivers supports: object-map\nPVUG\ttype\trbd\nPVUG\tformat\traw\r\nPVUG\tpath\t/dev/rbd-pve/f00/vms/vm-100-usb\n';
    expect(parsePveLibOutput(out)).toEqual({ type: 'rbd', format: 'raw', path: '/dev/rbd-pve/f00/vms/vm-100-usb', deactivated: false });
    expect(parsePveLibOutput('PVUG\tdeactivated\n').deactivated).toBe(true);
  });

  it('fails clearly when activation printed no path', async () => {
    const exec: Exec = async () => ({ exitCode: 0, stdout: 'PVUG\ttype\tlvm\n', stderr: '' });
    await expect(activateVolume(exec, 'usb-lvm:vm-100-usb')).rejects.toThrow(/gave no path/);
  });
});
