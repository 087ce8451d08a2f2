// preStart's order around the Proxmox mapping: asked for before the gadget is built (the two overlap),
// always waited for, and never followed by the attach helper when the start fails. The kernel side here
// fails at its first step (modprobe); the real build is proven in test/e2e.
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeHostFs } from '../../src/apply/host-fs.js';
import { CommandError, ConflictError, ImagePolicyError } from '../../src/errors.js';
import type { HookDeps } from '../../src/hook/deps.js';
import { createLogger } from '../../src/hook/log.js';
import type { Passthrough } from '../../src/hook/passthrough.js';
import { preStart } from '../../src/hook/pre-start.js';
import { realClock } from '../../src/host/enumeration.js';
import { ProxmoxApiError } from '../../src/proxmox/errors.js';
import { parseSettings } from '../../src/settings/parse.js';
import { StateStore } from '../../src/state/record.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

function setup(passthrough: (events: string[]) => Passthrough, notes = '[usb-gadget]\nimage = /images/stick.img\n', allowedDirs = '/images') {
  const root = mkdtempSync(join(tmpdir(), 'pvug-prestart-'));
  roots.push(root);
  const images = join(root, 'images');
  mkdirSync(images);
  mkdirSync(join(root, 'run'));
  writeFileSync(join(images, 'stick.img'), Buffer.alloc(1 << 20));
  const settings = parseSettings(
    `[images]\nallowed_dirs = ${allowedDirs}\n[paths]\nroot = ${root}\nstate_dir = /run\npve_config_dir = /qemu-server\n`,
    'test',
    'pve',
  );
  const events: string[] = [];
  const fs = nodeHostFs(root);
  const deps: HookDeps = {
    fs,
    exec: async (file, args) => {
      events.push(`${file} ${args.join(' ')}`);
      // a process takes time: the event loop turns (as for a real modprobe) before it fails
      await new Promise((r) => setTimeout(r, 20));
      return { exitCode: 1, stdout: '', stderr: `${file}: FATAL: Module ${args[0]} not found` };
    },
    clock: realClock,
    log: createLogger('t', { out: () => undefined, err: () => undefined }),
    settings,
    lock: {
      acquire: async () => {
        events.push('lock');
        return async () => void events.push('unlock');
      },
    },
    state: new StateStore(fs, settings.paths.stateDir),
    vms: { read: async () => ({ description: notes, config: {}, source: 'api' }) },
    passthrough: passthrough(events),
    checkpoint: (step) => void events.push(step),
  };
  return { deps, events, root };
}

/** A passthrough whose API answers at once; it notes when it was asked. */
const answeringMapping = (events: string[]): Passthrough => ({
  ensure: async () => {
    events.push('mapping asked');
    return { name: 'usb-gadget-100', checked: true };
  },
  attachIfMissing: () => void events.push('attach'),
});

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e);

describe('preStart and the mapping', () => {
  it('asks for the mapping before taking the host lock, waits for it when the build fails, never attaches', async () => {
    const { deps, events } = setup((events) => ({
      ensure: async () => {
        events.push('mapping asked');
        await new Promise((r) => setTimeout(r, 100));
        events.push('mapping done');
        return { name: 'usb-gadget-100', checked: true };
      },
      attachIfMissing: () => void events.push('attach'),
    }));
    const err = await failure(preStart(deps, 100));
    expect(err).toBeInstanceOf(CommandError);
    expect(events.slice(0, 3)).toEqual(['validated', 'mapping asked', 'lock']);
    expect(events).toContain('modprobe libcomposite');
    // the build failed long before the API answered: the hook still waited for the answer
    expect(events.at(-1)).toBe('mapping done');
    expect(events).not.toContain('attach');
  });

  it('a mapping refusal that arrives during the build is not an unhandled rejection; the build error is reported', async () => {
    const { deps, events } = setup(() => ({
      ensure: () => Promise.reject(new ProxmoxApiError('permission denied', { kind: 'permission' })),
      attachIfMissing: () => void events.push('attach'),
    }));
    const err = await failure(preStart(deps, 100));
    // vitest fails the run on an unhandled rejection, so reaching here with the build's error is the check
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).message).toContain('modprobe');
    expect(events).toContain('unlock');
    expect(events).not.toContain('attach');
  });

  it('refuses a VID:PID another gadget uses before asking for the mapping: the cluster is not touched', async () => {
    const notes = '[usb-gadget]\nimage = /images/stick.img\nvendor_id = 0x0781\nproduct_id = 0x5571\n';
    const { deps, events, root } = setup(
      answeringMapping,
      notes,
    );
    const other = join(root, 'sys/kernel/config/usb_gadget/pvug-200');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'idVendor'), '0x0781\n');
    writeFileSync(join(other, 'idProduct'), '0x5571\n');
    const err = await failure(preStart(deps, 100));
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).message).toContain('VM 200');
    expect(events).toEqual([]);
  });

  it("does not take its own leftover's device for a device in use: that is for the locked check, after the cleanup", async () => {
    const notes = '[usb-gadget]\nimage = /images/stick.img\nvendor_id = 0x0781\nproduct_id = 0x5572\n';
    const { deps, events, root } = setup(
      answeringMapping,
      notes,
    );
    // a pre-start of VM 100 killed after enumeration: its gadget and the host's view of it are still there
    for (const dir of ['sys/kernel/config/usb_gadget/pvug-100', 'sys/bus/usb/devices/2-1']) {
      mkdirSync(join(root, dir), { recursive: true });
      writeFileSync(join(root, dir, 'idVendor'), '0781\n');
      writeFileSync(join(root, dir, 'idProduct'), '5572\n');
    }
    const err = await failure(preStart(deps, 100));
    expect(err).not.toBeInstanceOf(ConflictError);
    expect(events.slice(0, 3)).toEqual(['validated', 'mapping asked', 'lock']);
  });

  it("refuses another VM's disk file named by path before any effect: no module, no lock, no mapping, no record", async () => {
    // an admin widened allowed_dirs to reach the ISOs; VM 101 is stopped
    const { deps, events, root } = setup(answeringMapping, '[usb-gadget]\nimage = /var/lib/vz/images/101/vm-101-disk-0.raw\n', '/var/lib/vz');
    mkdirSync(join(root, 'var/lib/vz/images/101'), { recursive: true });
    writeFileSync(join(root, 'var/lib/vz/images/101/vm-101-disk-0.raw'), Buffer.alloc(1 << 20));
    const err = await failure(preStart(deps, 100));
    expect(err).toBeInstanceOf(ImagePolicyError);
    expect((err as ImagePolicyError).message).toMatch(/VM 101's folder of storage 'local'/);
    expect(events).toEqual([]);
    expect(readdirSync(join(root, 'run'))).toEqual([]);
  });

  it('marks when the host lock is taken and given back, for the timing only, apart from the checkpoints', async () => {
    const { deps, events } = setup(answeringMapping);
    const marks: string[] = [];
    deps.mark = (name) => {
      marks.push(name);
      events.push(`mark ${name}`);
    };
    await failure(preStart(deps, 100));
    expect(marks).toEqual(['lock-acquired', 'lock-released']);
    expect(events.indexOf('mark lock-acquired')).toBe(events.indexOf('lock') + 1);
    expect(events.indexOf('mark lock-released')).toBe(events.indexOf('unlock') + 1);
  });

  it('refuses a hard-linked image before any effect', async () => {
    const { deps, events, root } = setup(answeringMapping);
    linkSync(join(root, 'images/stick.img'), join(root, 'images/other-name.img'));
    const err = await failure(preStart(deps, 100));
    expect(err).toBeInstanceOf(ImagePolicyError);
    expect((err as ImagePolicyError).message).toMatch(/2 hard links/);
    expect(events).toEqual([]);
    expect(readdirSync(join(root, 'run'))).toEqual([]);
  });
});
