import { GadgetError } from '../errors.js';
import type { ProxmoxClient } from '../proxmox/client.js';
import { isProxmoxApiError } from '../proxmox/errors.js';
import { parseLocalVmConfig } from '../proxmox/local-config.js';
import type { HookDeps } from './deps.js';
import { smbiosUuid, type VmInfo, type VmSource } from './vm-source.js';

const asStrings = (c: Record<string, string | number>) => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, String(v)]));

/** Notes from the API; from /etc/pve/qemu-server/<vmid>.conf without a client or when the API cannot answer. */
export function createVmSource(deps: Pick<HookDeps, 'fs' | 'settings' | 'log'>, client: ProxmoxClient | undefined): VmSource {
  const local = (vmid: number): VmInfo => {
    const path = `${deps.settings.paths.pveConfigDir}/${vmid}.conf`;
    const text = deps.fs.readTextIfExists(path);
    if (text === undefined) {
      throw new GadgetError(`cannot read the config of VM ${vmid}`, { path, fix: 'the VM must exist on this node' });
    }
    const parsed = parseLocalVmConfig(text);
    return { description: parsed.description ?? '', smbiosUuid: smbiosUuid(parsed.options.smbios1), config: parsed.options, source: 'local' };
  };
  return {
    async read(vmid) {
      if (!client) return local(vmid);
      try {
        const { config } = await client.getVmConfig(deps.settings.node, vmid);
        const c = asStrings(config);
        return { description: c.description ?? '', smbiosUuid: smbiosUuid(c.smbios1), config: c, source: 'api' };
      } catch (err) {
        if (!isProxmoxApiError(err)) throw err;
        deps.log.warn(`reading the VM config through the API failed (${err.toLine()}); using the local config file`);
        return local(vmid);
      }
    },
  };
}
