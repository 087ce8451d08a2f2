/**
 * The licence identity on a real kernel (test/e2e/guest/scenarios-identity.ts): a VM restored under a new
 * vmid with the original gone shows the guest the same VID, PID and serial (the same unRAID GUID) and
 * boots from it; a clone with the original present is refused at pre-start, naming both VMs, leaving
 * nothing; `enable --new-identity` gives it another GUID it starts with. A licence stick from
 * `image create --unraid-licence` is found by its label by a nested Linux guest, which sees its GUID.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { unraidGuidOfUsbId } from '../../src/spec/guid.js';
import { expectClean, runScenarioGroup, type GroupRun } from './harness/scenarios.js';

const IDENTITY = { idVendor: '0781', idProduct: '5577', serial: '4C530001230101117777' };

describe('licence identity on a real kernel', () => {
  let g: GroupRun;
  const f = () => g.facts.identityScenarios;
  beforeAll(async () => {
    g = await runScenarioGroup('identity');
  });

  it('ran', () => {
    expect(g.run.exitCode, g.run.output).toBe(0);
    expect(f().crashed).toBeUndefined();
    expect(g.facts.licenceStick?.crashed).toBeUndefined();
  });

  it('the original starts with its pinned identity and the guest boots from it', () => {
    expect(f().original.start.started, f().original.start.error).toBe(true);
    expect(f().original.start.hooks[0].stdout).toContain('(unRAID GUID 0781-5577-0001-230101117777)');
    expect(f().original.identity).toMatchObject(IDENTITY);
    expect(f().original.boot.found).toBe(true);
    expectClean(f().original.after, expect);
  });

  it('restored as 701 with 700 gone: same VID, PID and serial, the guest boots, a warning about the copied usb0 line', () => {
    const r = f().restored;
    expect(r.start.started, r.start.error).toBe(true);
    expect(r.start.usbDevices).toEqual(['0781:5577']);
    expect(r.identity).toMatchObject(IDENTITY);
    expect(r.boot.found).toBe(true);
    const pre = r.start.hooks[0];
    expect(pre.stdout).toContain('(unRAID GUID 0781-5577-0001-230101117777)');
    expect(pre.stderr).toMatch(/usb0 points at usb-gadget-700, the mapping of VM 700, which no longer exists/);
    expect(pre.stderr).not.toMatch(/not pinned/);
    expectClean(r.after, expect);
  });

  it('a clone of 701 with 701 present is refused at pre-start, naming both VMs, and nothing is left', () => {
    const c = f().cloneRefused;
    expect(c.start.started).toBe(false);
    const pre = c.start.hooks[0];
    expect(pre.code).not.toBe(0);
    expect(pre.stderr).toContain('unRAID GUID 0781-5577-0001-230101117777 of VM 702 is also the GUID of VM 701');
    expect(pre.stderr).toContain('pve-usb-gadget enable 702 --image /var/lib/vz/usb-gadget/vm700.img --new-identity');
    expectClean(c.after, expect);
    expect(c.after.modules.dummy_hcd).toBe(false);
  });

  it('with a new identity the clone starts with another GUID and its own mapping', () => {
    const e = f().enable;
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toMatch(/usb0: mapping=usb-gadget-702 \(was usb-gadget-700: another VM's stick, copied by a clone or restore\)/);
    expect(e.stdout).toMatch(/VM 702: unRAID GUID 1D6B-82BE-[0-9A-F]{4}-[0-9A-F]{12} \(vendor_id, product_id and serial pinned/);
    expect(e.stdout).toMatch(/this is a new GUID \(it was 0781-5577-0001-230101117777\)/);
    const n = f().newIdentity;
    expect(n.start.started, n.start.error).toBe(true);
    expect(n.start.usbDevices).toEqual(['1d6b:82be']);
    expect(n.identity).toMatchObject({ idVendor: '1d6b', idProduct: '82be' });
    expect(n.identity.serial).toMatch(/^[0-9A-F]{16}$/);
    expect(n.boot.found).toBe(true);
    expect(f().mappings.m702.map).toEqual(['node=pve,id=1d6b:82be']);
  });

  describe('a licence stick found by its label in a nested Linux guest', () => {
    const l = () => g.facts.licenceStick;
    it('image create --unraid-licence makes FAT32 labelled UNRAID, image inspect says so', () => {
      expect(l().create.code, l().create.stderr).toBe(0);
      expect(l().inspect.code, l().inspect.stderr).toBe(0);
      expect(l().inspect.stdout).toMatch(/FAT32/);
      expect(l().inspect.stdout).toMatch(/UNRAID/);
    });
    it('enable pins an identity on a VM without notes and the VM starts', () => {
      expect(l().enable.code, l().enable.stderr).toBe(0);
      expect(String(l().config.description)).toMatch(/vendor_id = 0x1d6b\nproduct_id = 0x82bf\nserial = [0-9A-F]{16}/);
      expect(l().start.started, l().start.error).toBe(true);
    });
    it('the guest finds the stick by its label, reads the key file and sees the GUID enable printed', () => {
      expect(l().found?.out, l().bootSerial).toMatch(/^\/dev\/sd[a-z]1$/m);
      expect(l().key.out).toContain(l().keyWritten);
      const guid = /unRAID GUID ([0-9A-F-]{27})/.exec(l().enable.stdout)?.[1];
      const seen = l().usb.out.split('\n').map((line: string) => line.split(' ')).filter((w: string[]) => w.length === 3).map(([v, p, s]: string[]) => unraidGuidOfUsbId(`${v}:${p}`, s as string));
      expect(guid).toBeDefined();
      expect(seen).toContain(guid);
    });
    it('stops clean', () => {
      expect(l().stop.map((h: any) => h.code)).toEqual([0, 0]);
      expectClean(l().after, expect);
    });
  });
});
