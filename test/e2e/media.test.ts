/**
 * Media changes on a live stick, on a real kernel (test/e2e/guest/scenarios-media.ts): swap a cdrom
 * LUN's ISO, eject a disk LUN, refuse then force-eject a locked medium, kill -9 mid-insert and recover.
 * The medium is read by the test VM's own usb-storage (isolation off), and then by a nested Linux guest
 * through usb-host, the way a Proxmox VM reads it (isolation on, as shipped).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClean, runScenarioGroup, type GroupRun } from './harness/scenarios.js';

describe('media changes on a real kernel', () => {
  let g: GroupRun;
  beforeAll(async () => {
    g = await runScenarioGroup('media');
  });

  it('ran every scenario', () => {
    expect(g.run.exitCode, g.run.output).toBe(0);
    for (const s of ['mediaSwap', 'mediaEject', 'mediaForceEject', 'mediaKill', 'mediaGuest']) expect(g.facts[s]?.crashed, s).toBeUndefined();
  });

  describe('swap the ISO of a cdrom LUN', () => {
    const f = () => g.facts.mediaSwap;
    it('the host reads the old ISO, then the new one through the same cdrom device', () => {
      expect(f().pre.code, f().pre.stderr).toBe(0);
      expect(f().before).toMatch(/^ISO-A-SECTOR-5/);
      expect(f().insert.code, f().insert.stderr).toBe(0);
      expect(f().readAfter).toMatch(/^ISO-B-SECTOR-5/);
      expect(f().configfs).toBe('/var/lib/vz/template/iso/media-b.iso');
    });
    it('show and status report the live medium, and the notes name the new ISO', () => {
      const [, lun1] = JSON.parse(f().show.stdout);
      expect(lun1).toMatchObject({ index: 1, medium: true, file: '/var/lib/vz/template/iso/media-b.iso', cdrom: true, ro: true, differs: [] });
      const st = JSON.parse(f().status.stdout).find((s: any) => s.vmid === 310);
      expect(st.media[1].file).toBe('/var/lib/vz/template/iso/media-b.iso');
      expect(f().notes).toContain('image = /var/lib/vz/template/iso/media-b.iso');
    });
    it('inserting the same ISO again changes nothing; post-stop leaves nothing', () => {
      expect(f().again.code).toBe(0);
      expect(f().again.stdout).toContain('nothing changed');
      expect(f().post.code).toBe(0);
      expectClean(f().after, expect);
    });
  });

  describe('eject a disk LUN', () => {
    const f = () => g.facts.mediaEject;
    it('configfs serves nothing and the host disk has no medium; the notes keep their image', () => {
      expect(f().before).toBe('DDDD');
      expect(f().eject.code, f().eject.stderr).toBe(0);
      expect(f().configfs).toBe('');
      expect(f().record[0].image).toBe('');
      expect(f().readAfter).toMatch(/^error|^\u0000*$/);
      expect(['', '0']).toContain(f().sizeAfter);
      expect(f().notes).toContain('image = /var/lib/vz/usb-gadget/vm311.img');
    });
    it('an unknown LUN and a refused image fail with one line each and change nothing', () => {
      expect(f().unknownLun.code).toBe(1);
      expect(f().unknownLun.stderr).toMatch(/has no lun7.*fix:/);
      expect(f().refused.code).toBe(1);
      expect(f().refused.stderr).toMatch(/refused.*fix:/);
      expect(f().configfsAfterRefusals).toBe('/var/lib/vz/template/iso/media-c.iso');
      expectClean(f().after, expect);
    });
  });

  describe('force-eject a locked medium', () => {
    const f = () => g.facts.mediaForceEject;
    it('without --force: refused, naming the lock and what --force risks; nothing changed', () => {
      expect(f().locked.code).toBe(1);
      expect(f().locked.stderr).toMatch(/locked the medium.*EBUSY.*--force.*I\/O errors/);
      expect(f().stillServed).toBe('/var/lib/vz/template/iso/media-d.iso');
    });
    it('with --force: forced_eject ejects it', () => {
      expect(f().forced.code, f().forced.stderr).toBe(0);
      expect(f().afterForce).toBe('');
      expectClean(f().after, expect);
    });
  });

  describe('kill -9 during insert', () => {
    const f = () => g.facts.mediaKill;
    it('the record keeps the intent and status shows it', () => {
      expect(f().killed.signal).toBe('SIGKILL');
      expect(f().recordAfterKill.media).toMatchObject({ lun: 1, action: 'insert', done: 1, steps: 4 });
      expect(f().configfsAfterKill).toBe('');
      expect(JSON.parse(f().status.stdout).find((s: any) => s.vmid === 313).pendingMedia).toMatchObject({ done: 1 });
    });
    it('the next insert settles and completes; post-stop leaves nothing', () => {
      expect(f().retry.code, f().retry.stderr).toBe(0);
      expect(f().recordAfterRetry.media).toBeUndefined();
      expect(f().recordAfterRetry.luns[1]).toMatchObject({ image: '/var/lib/vz/usb-gadget/vm313-b.img', cdrom: false, readonly: false });
      expect(f().configfs).toBe('/var/lib/vz/usb-gadget/vm313-b.img');
      expect(f().post.code).toBe(0);
      expectClean(f().after, expect);
    });
  });

  describe('seen by a nested Linux guest through usb-host (VM running, isolation on)', () => {
    const f = () => g.facts.mediaGuest;
    it('the guest boots and sees the cdrom and the disk', () => {
      expect(f().start.started, f().start.error ?? f().bootSerial).toBe(true);
      expect(f().devices?.out, f().bootSerial).toMatch(/sda/);
      expect(f().cdBefore.out).toMatch(/^ISO-A-SECTOR-5/);
      expect(f().diskBefore.out).toMatch(/^DDDD/);
    });
    it('an ISO swapped while the VM runs is what the guest reads next', () => {
      expect(f().insert.code, f().insert.stderr).toBe(0);
      expect(f().configfsAfterInsert).toBe('/var/lib/vz/template/iso/media-guest-b.iso');
      expect(f().cdAfter.out).toMatch(/^ISO-B-SECTOR-5/);
    });
    it('an ejected disk LUN has no medium in the guest', () => {
      expect(f().eject.code, f().eject.stderr).toBe(0);
      expect(f().configfsAfterEject).toBe('');
      expect(f().diskAfter.out).toMatch(/No medium found/);
      expect(f().diskAfter.out.trim().split('\n').at(-1)).toBe('0');
    });
    it('a medium the guest holds locked is refused without --force and ejected with it', () => {
      expect(f().hold.out).toContain('held');
      expect(f().locked.code).toBe(1);
      expect(f().locked.stderr).toMatch(/locked the medium.*EBUSY.*--force/);
      expect(f().servedWhileLocked).toBe('/var/lib/vz/template/iso/media-guest-b.iso');
      expect(f().cdWhileLocked.out).toMatch(/^ISO-B-SECTOR-5/);
      expect(f().forced.code, f().forced.stderr).toBe(0);
      expect(f().configfsAfterForce).toBe('');
      expect(f().cdAfterForce.out).toMatch(/No medium found/);
    });
    it('the VM stops and post-stop leaves nothing', () => {
      expect(f().stop.map((h: any) => h.code)).toEqual([0, 0]);
      expectClean(f().after, expect);
    });
  });
});
