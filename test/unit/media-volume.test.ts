// A volume id inserted at runtime: the record names it before PVE::Storage is asked, the LUN gets it once
// configfs serves it, the old one is deactivated after a swap, and a refused volume is never activated.
import { symlinkSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HostFs } from '../../src/ports/host-fs.js';
import { createLogger } from '../../src/hook/log.js';
import { realClock } from '../../src/host/enumeration.js';
import { changeMedia, type MediaDeps } from '../../src/media/change.js';
import { parseSettings } from '../../src/settings/parse.js';
import { StateStore, type GadgetRecord } from '../../src/state/record.js';
import { fakeLunFs, putLuns } from './fake-lun.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const roots: TmpRoot[] = [];
afterEach(() => roots.splice(0).forEach((r) => r.remove()));

function setup() {
  const t = tmpRoot('pvug-media-vol-');
  roots.push(t);
  t.put('/images/a.iso', 'x'.repeat(4096));
  t.put('/etc/pve/storage.cfg', 'lvmthin: local-lvm\n\tvgname pve\n\tthinpool data\n');
  for (const n of [3, 4]) {
    t.put(`/dev/dm-${n}`, '');
    t.put(`/sys/class/block/dm-${n}/size`, '131072\n');
    mkdirSync(dirname(join(t.root, `/dev/pve/vm-100-disk-${n}`)), { recursive: true });
    symlinkSync(join(t.root, `/dev/dm-${n}`), join(t.root, `/dev/pve/vm-100-disk-${n}`));
  }
  putLuns(t, 100, [{ file: '/images/a.iso', cdrom: true }]);
  const settings = parseSettings(
    `[images]\nallowed_dirs = /images\nallowed_storages = local-lvm\n[paths]\nroot = ${t.root}\nstate_dir = /run/pvug\npve_config_dir = /qemu-server\n`,
    'test',
    'pve',
  );
  const fake = fakeLunFs(t);
  const fs: HostFs = { ...fake.fs, stat: (p) => (p.startsWith('/dev/dm-') ? { ...fake.fs.stat(p), kind: 'block', size: 0 } : fake.fs.stat(p)) };
  const state = new StateStore(fs, settings.paths.stateDir);
  const calls: string[] = [];
  const atActivate: (GadgetRecord | undefined)[] = [];
  const record: GadgetRecord = {
    version: 1, vmid: 100, phase: 'live', node: 'pve', gadgetDir: '/sys/kernel/config/usb_gadget/pvug-100', udc: 'dummy_udc.0',
    usbId: '1d6b:8064', serial: 'S', speed: 'high', createdAt: '', pid: 1, luns: [{ index: 0, image: '/images/a.iso', readonly: true, cdrom: true }],
  };
  state.write(record);
  const deps: MediaDeps = {
    fs,
    exec: async (_file, args) => {
      const [op, volid] = args.slice(-2) as [string, string];
      calls.push(`${op} ${volid}`);
      if (op === 'activate') atActivate.push(state.read(100));
      const path = `/dev/pve/${volid.split(':')[1]}`;
      return { exitCode: 0, stderr: '', stdout: op === 'activate' ? `PVUG\ttype\tlvmthin\nPVUG\tpath\t${path}\n` : 'PVUG\tdeactivated\n' };
    },
    clock: realClock,
    log: createLogger('t', { out: () => undefined, err: () => undefined }),
    settings,
    lock: { acquire: async () => async () => undefined },
    state,
  };
  return { deps, state, calls, atActivate, fake };
}

const insert = (image: string) => ({ action: 'insert' as const, lun: 0, image, cdrom: false, readonly: false, force: false });

describe('media insert of a volume id', () => {
  it('records the volume before activating it, serves its device, and gives it to the LUN', async () => {
    const s = setup();
    await changeMedia(s.deps, 100, insert('local-lvm:vm-100-disk-3'));
    expect(s.atActivate[0]?.spareVolumes).toMatchObject([{ volid: 'local-lvm:vm-100-disk-3', state: 'activating' }]);
    const r = s.state.read(100);
    expect(r?.luns[0]).toMatchObject({ image: '/dev/dm-3', volume: { volid: 'local-lvm:vm-100-disk-3', device: '/dev/dm-3', state: 'active' } });
    expect(r?.spareVolumes).toBeUndefined();
  });

  it('a swap deactivates the old volume once the new one is served', async () => {
    const s = setup();
    await changeMedia(s.deps, 100, insert('local-lvm:vm-100-disk-3'));
    await changeMedia(s.deps, 100, insert('local-lvm:vm-100-disk-4'));
    expect(s.calls).toEqual(['activate local-lvm:vm-100-disk-3', 'activate local-lvm:vm-100-disk-4', 'deactivate local-lvm:vm-100-disk-3']);
    expect(s.state.read(100)?.luns[0]?.volume?.volid).toBe('local-lvm:vm-100-disk-4');
  });

  it('the same volume again changes nothing and does not activate or release it', async () => {
    const s = setup();
    await changeMedia(s.deps, 100, insert('local-lvm:vm-100-disk-3'));
    const r = await changeMedia(s.deps, 100, insert('local-lvm:vm-100-disk-3'));
    expect(r.changed).toBe(false);
    expect(s.calls).toEqual(['activate local-lvm:vm-100-disk-3']);
  });

  it('refuses one of the VM\'s own disks without activating it', async () => {
    const s = setup();
    await expect(changeMedia(s.deps, 100, insert('local-lvm:vm-100-disk-3'), { scsi0: 'local-lvm:vm-100-disk-3,size=32G' })).rejects.toThrow(/already the VM's disk scsi0/);
    expect(s.calls).toEqual([]);
    expect(s.fake.writes).toEqual([]);
  });

  it('a locked medium after activation releases the new volume and changes nothing', async () => {
    const s = setup();
    s.fake.lock('/sys/kernel/config/usb_gadget/pvug-100/functions/mass_storage.0/lun.0');
    await expect(changeMedia(s.deps, 100, { ...insert('local-lvm:vm-100-disk-3'), cdrom: true, readonly: true })).rejects.toThrow(/locked the medium/);
    expect(s.calls).toEqual(['activate local-lvm:vm-100-disk-3', 'deactivate local-lvm:vm-100-disk-3']);
    expect(s.state.read(100)?.spareVolumes).toBeUndefined();
    expect(s.state.read(100)?.luns[0]?.image).toBe('/images/a.iso');
  });
});
