/**
 * One VM start/stop through the qemu-server stand-in on a real kernel: the nested guest boots from the
 * emulated stick, and afterwards nothing is left. Then the stick as the host's usb-storage sees it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClean, runScenarioGroup, type GroupRun } from './harness/scenarios.js';
import { FLAVOUR, NODE } from './harness/flavour.js';

describe('lifecycle on a real kernel', () => {
  let g: GroupRun;
  beforeAll(async () => {
    g = await runScenarioGroup('lifecycle');
  });

  it(`ran the hook on Debian's node ${NODE[FLAVOUR].text} inside the VM`, () => {
    expect(g.run.exitCode, g.run.output).toBe(0);
    expect(g.facts.nodeVersion).toMatch(NODE[FLAVOUR].re);
  });

  describe('happy path', () => {
    const h = () => g.facts.happyPath;
    it('pre-start succeeds and the start resolves the mapping to the gadget', () => {
      expect(h().crashed).toBeUndefined();
      const pre = h().start.hooks[0];
      expect(pre.code, pre.stderr).toBe(0);
      expect(pre.stdout).toContain('host enumerated 0781:5571');
      expect(h().start.started, h().start.error).toBe(true);
      expect(h().start.usbDevices).toEqual(['0781:5571']);
    });
    it('builds one gadget on a dummy UDC with the host kept off it', () => {
      expect(h().during.gadgets).toEqual(['pvug-100']);
      expect(h().during.bound['pvug-100']).toMatch(/^dummy_udc\.\d+$/);
      expect(h().during.quirks).toContain('0781:5571:i');
      expect(h().during.stateFiles).toEqual(['100.json']);
    });
    it('status shows it enumerated and isolated', () => {
      const [s] = h().status;
      expect(s).toMatchObject({ vmid: 100, usbId: '0781:5571', serial: '4C530001230101111111', enumerated: true, hostDisk: 'isolated' });
    });
    it('the nested guest boots from the emulated stick and prints its marker', () => {
      expect(h().boot.found, h().boot.serial).toBe(true);
    });
    it('post-stop removes gadget, quirk, state file and unloads the modules; twice is fine', () => {
      const post = h().stop[1];
      expect(post.code, post.stderr).toBe(0);
      expectClean(h().after, expect);
      expect(h().after.modules).toEqual({ dummy_hcd: false, libcomposite: false, usb_f_mass_storage: false });
      expect(h().secondPostStop.code).toBe(0);
    });
    it('keeps the mapping entry of this node for the next start', () => {
      expect(h().mapping.map).toEqual(['node=pve,id=0781:5571']);
      expect(h().vmConfig.usb0).toBe('mapping=usb-gadget-100');
    });
  });

  describe('identity and data path (host isolation off)', () => {
    const d = () => g.facts.identityAndData;
    it('pre-start succeeds', () => {
      expect(d().crashed).toBeUndefined();
      expect(d().pre.code, d().pre.stderr).toBe(0);
    });
    it('shows the configured USB identity', () => {
      expect(d().identity).toMatchObject({ idVendor: '0781', idProduct: '5572', serial: 'PVUG0000200', manufacturer: 'SanDisk', product: 'Cruzer Fit', bcdDevice: '0100' });
      expect(d().identity.speed).toBe('480');
    });
    it('answers SCSI INQUIRY with the configured string on every LUN', () => {
      expect(d().disks).toHaveLength(3);
      for (const disk of d().disks) expect({ v: disk.vendor, m: disk.model, r: disk.rev }).toEqual({ v: 'SanDisk', m: 'Cruzer Fit', r: '1.26' });
    });
    it('writes through the disk land in the image and back', () => {
      expect(d().data.writeErr).toBeUndefined();
      expect(d().data.imageHasWrite).toBe(true);
      expect(d().data.diskHasImageWrite).toBe(true);
    });
    it('a read-only LUN cannot be written', () => {
      expect(d().disks[1].ro).toBe('1');
      expect(d().data.roWriteErr).toBeDefined();
      expect(d().data.roImageUnchanged).toBe(true);
    });
    it('a cdrom LUN serves the ISO', () => {
      expect(d().disks[2].name).toMatch(/^sr\d+$/);
      expect(d().data.cdromSector7).toBe('ISO-SECTOR-7\0\0\0\0');
    });
    it('post-stop leaves nothing', () => {
      expect(d().post.code, d().post.stderr).toBe(0);
      expectClean(d().after, expect);
    });
  });
});
