/** What enable, disable and doctor act through, passed in so they stay testable. */
import { nodeHostFs } from '../apply/host-fs.js';
import type { HostFs } from '../ports/host-fs.js';
import { SettingsError } from '../errors.js';
import { createLogger } from '../hook/log.js';
import { createClient } from '../hook/passthrough.js';
import type { ProxmoxClient } from '../proxmox/client.js';
import { loadSettings } from '../settings/load.js';
import type { Settings } from '../settings/types.js';
import { execaExec } from '../host/exec.js';
import { pveumAclTool, type MappingAclTool } from './mapping-acl.js';
import { qmTool, type RootVmTool } from './qm.js';

export type AdminApi = Pick<
  ProxmoxClient,
  | 'version'
  | 'getVmConfig'
  | 'getVmStatus'
  | 'updateVmConfig'
  | 'listVms'
  | 'listUsbMappings'
  | 'getUsbMapping'
  | 'createUsbMapping'
  | 'updateUsbMapping'
  | 'deleteUsbMapping'
  | 'getPermissions'
  | 'listNodes'
  | 'listStorages'
  | 'getStorageStatus'
  | 'getVolumeInfo'
>;

export interface AdminDeps {
  api: AdminApi;
  qm: RootVmTool;
  /** Mapping.Use for the token on one VM's own mapping (root, pveum) */
  acl: MappingAclTool;
  settings: Settings;
  fs: HostFs;
  print: (line: string) => void;
  /** 16 characters [0-9A-F]; a seam for tests */
  randomSerial?: () => string;
}

export const printLine = (line: string) => void process.stdout.write(`${line}\n`);

/** The real dependencies; enable and disable need the API token install.sh set up. */
export function adminDeps(settingsPath: string | undefined): AdminDeps & { close(): Promise<void> } {
  const settings = loadSettings({ path: settingsPath });
  const client = createClient({ settings, log: createLogger('pve-usb-gadget') });
  if (!client) {
    throw new SettingsError('this command needs the Proxmox API token, and the settings have no [api] section', {
      key: 'api',
      fix: 'run install.sh (without --no-api) on this node, or add [api] to the settings',
    });
  }
  return {
    api: client,
    qm: qmTool(execaExec),
    acl: pveumAclTool(execaExec, client.tokenId),
    settings,
    fs: nodeHostFs(settings.paths.root),
    print: printLine,
    close: () => client.close(),
  };
}
