/**
 * Runs INSIDE the test VM: turns the VM into a one-node "Proxmox host" for the hook. The fake Proxmox API
 * listens on 127.0.0.1; settings, token secret and cluster CA are written where an install would put
 * them; VM configs are mirrored to /etc/pve/qemu-server for the hook's local fallback.
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { startFakePve, type FakePve } from '../../fake-pve/index.js';
import { writeMarkerDiskImage } from '../harness/boot-sector.js';

export const NODE = 'pve';
export const TOKEN_ID = 'pve-usb-gadget@pve!hook';
export const IMAGES = '/var/lib/vz/usb-gadget';
export const ETC = '/etc/pve-usb-gadget';
export const SETTINGS = `${ETC}/settings.ini`;

export interface NodeOptions {
  controllers?: number;
  isolate?: boolean;
  keepModules?: boolean;
  enumerationTimeoutS?: number;
}

export class PveNode {
  private constructor(
    readonly api: FakePve,
    readonly secret: string,
  ) {}

  static async start(opts: NodeOptions = {}): Promise<PveNode> {
    // config updates of a locked VM fail after 10 s in PVE; 3 s keeps tests short and the behaviour the same
    const api = await startFakePve({ nodes: [NODE], lockTimeoutMs: 3000 });
    const secret = randomUUID();
    api.addToken(TOKEN_ID, secret, {
      '/vms': ['VM.Audit', 'VM.Config.HWType', 'VM.Config.Options'],
      '/mapping/usb': ['Mapping.Audit', 'Mapping.Modify', 'Mapping.Use'],
    });
    for (const d of [ETC, IMAGES, '/var/lib/vz/template/iso', '/etc/pve/qemu-server']) mkdirSync(d, { recursive: true });
    writeFileSync(`${ETC}/ca.pem`, api.caPem);
    writeFileSync(`${ETC}/token.secret`, `${secret}\n`, { mode: 0o600 });
    chmodSync(`${ETC}/token.secret`, 0o600);
    const node = new PveNode(api, secret);
    node.writeSettings(opts);
    return node;
  }

  writeSettings(opts: NodeOptions): void {
    writeFileSync(
      SETTINGS,
      [
        '[api]',
        `url = ${this.api.url}`,
        `token_id = ${TOKEN_ID}`,
        `secret_file = ${ETC}/token.secret`,
        `ca_file = ${ETC}/ca.pem`,
        '[host]',
        `node = ${NODE}`,
        '[images]',
        `allowed_dirs = ${IMAGES}, /var/lib/vz/template/iso`,
        '[modules]',
        `controllers = ${opts.controllers ?? 4}`,
        `keep_loaded = ${opts.keepModules ? 'true' : 'false'}`,
        '[gadget]',
        `enumeration_timeout = ${opts.enumerationTimeoutS ?? 30}`,
        `isolate_host_storage = ${opts.isolate === false ? 'false' : 'true'}`,
        '',
      ].join('\n'),
      { mode: 0o644 },
    );
  }

  /** A VM whose notes hold `notes` and that passes mapping usb-gadget-<vmid> through as usb0, first in boot order. */
  addVm(vmid: number, notes: string, opts: { usbLine?: boolean; extra?: Record<string, string> } = {}): void {
    const config: Record<string, string> = {
      name: `vm${vmid}`,
      ostype: 'l26',
      machine: 'q35',
      memory: '64',
      smbios1: `uuid=${randomUUID()}`,
      description: notes,
      ...opts.extra,
    };
    if (opts.usbLine !== false) {
      config.usb0 = `mapping=usb-gadget-${vmid}`;
      config.boot = 'order=usb0';
    }
    this.api.addVm({ vmid, node: NODE, config, status: 'stopped' });
    this.syncConfigFile(vmid);
  }

  /** /etc/pve/qemu-server/<vmid>.conf as pmxcfs would show it (the hook reads it when the API is down). */
  syncConfigFile(vmid: number): void {
    writeFileSync(`/etc/pve/qemu-server/${vmid}.conf`, this.api.vmConfigFile(vmid));
  }
}

/** Notes for a VM with one stick. */
export function gadgetNotes(keys: Record<string, string>, extraSections = ''): string {
  const lines = Object.entries(keys).map(([k, v]) => `${k} = ${v}`);
  return `Test VM. Free text before the configuration.\n\n[usb-gadget]\n${lines.join('\n')}\n${extraSections}`;
}

export async function markerImage(name: string, marker: string, sizeBytes = 8 * 1024 * 1024): Promise<string> {
  const path = `${IMAGES}/${name}`;
  await writeMarkerDiskImage(path, marker, sizeBytes);
  return path;
}
