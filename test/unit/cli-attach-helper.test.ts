// The detached helper `up` starts must be a command the program it runs knows: the CLI once passed itself
// the hook's arguments (`<vmid> attach-mapping`), which it rejected, unseen, since the helper's stdio is
// ignored. Each side's helper arguments are parsed here by that side's own argument rules.
import { describe, expect, it } from 'vitest';
import { cliAttachHelper } from '../../src/cli/attach-helper.js';
import { program } from '../../src/cli/program.js';
import { ATTACH_PHASE, detachedAttachSpawner, hookAttachHelper } from '../../src/hook/passthrough.js';

describe('the attach helper', () => {
  it("the CLI's helper arguments run the CLI's attach-mapping for that VM", async () => {
    const helper = cliAttachHelper('/usr/local/sbin/pve-usb-gadget');
    const spawned: { script: string; args: string[] }[] = [];
    detachedAttachSpawner(helper, (script, args) => void spawned.push({ script, args }))(104);
    expect(spawned).toEqual([{ script: '/usr/local/sbin/pve-usb-gadget', args: ['attach-mapping', '104'] }]);

    const ran: number[] = [];
    const p = program({ attach: async (vmid) => void ran.push(vmid) });
    await p.parseAsync(spawned[0]?.args ?? [], { from: 'user' });
    expect(ran).toEqual([104]);
  });

  it("the hook's arguments are not the CLI's: parsed by the CLI they are refused", async () => {
    const ran: number[] = [];
    const p = program({ attach: async (vmid) => void ran.push(vmid) });
    p.configureOutput({ writeErr: () => undefined });
    await expect(p.parseAsync(hookAttachHelper('/hook.cjs').args(104), { from: 'user' })).rejects.toThrow(/unknown command/);
    expect(ran).toEqual([]);
  });

  it("the hook's helper is `<vmid> attach-mapping`, the phase the hook's main knows", () => {
    expect(hookAttachHelper('/var/lib/vz/snippets/pve-usb-gadget-hook.cjs').args(104)).toEqual(['104', ATTACH_PHASE]);
    expect(ATTACH_PHASE).toBe('attach-mapping');
  });
});
