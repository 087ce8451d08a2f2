import type { HostFs } from '../ports/host-fs.js';
import { deviceOnDummyHcd, interfaceDrivers } from '../host/devices.js';
import { udcState } from '../host/enumeration.js';
import { CONFIGFS_GADGETS, vmidOfGadget } from '../plan/ops.js';
import type { GadgetRecord, StateStore } from '../state/record.js';
import { unraidGuidOfUsbId } from '../spec/guid.js';
import { describeLunVolume } from '../storage/describe.js';
import { readLiveLuns } from '../media/live-lun.js';
import { formatLunStatus, lunStatuses, type LunStatus } from '../media/lun-status.js';
import type { LunSpec } from '../spec/types.js';
import { resolver } from '../media/notes-luns.js';

export interface GadgetStatus {
  vmid: number;
  phase: string;
  udc?: string;
  busPort?: string;
  usbId?: string;
  serial?: string;
  /** the unRAID licence GUID these ids and serial give (spec/guid.ts) */
  guid?: string;
  speed?: string;
  enumerated: boolean;
  /** "isolated": no host driver on the disk; "claimed": the host's usb-storage has it; "absent": no device */
  hostDisk: 'isolated' | 'claimed' | 'absent';
  /** `volume`: the Proxmox volume the LUN came from (storage type, path, exported device), if any */
  luns: GadgetRecord['luns'];
  /** each LUN as configfs shows it now (medium, file, ro, cdrom, removable) and how it differs from the record and notes */
  media: LunStatus[];
  /** a media change that has not finished (its pid may be gone: the next media command or teardown settles it) */
  pendingMedia?: GadgetRecord['media'];
  mapping?: string;
  /** configfs has the gadget but no record, or the reverse */
  problem?: string;
}

/** Every gadget of ours on this host, from the records and from configfs (either alone is a leftover). */
export function collectStatus(fs: HostFs, state: StateStore, notesOf: (vmid: number) => LunSpec[] | undefined = () => undefined): GadgetStatus[] {
  const records = new Map(state.list().map((r) => [r.vmid, r]));
  const inConfigfs = new Set(fs.list(CONFIGFS_GADGETS).map(vmidOfGadget).filter((v): v is number => v !== undefined));
  const vmids = [...new Set([...records.keys(), ...inConfigfs])].sort((a, b) => a - b);
  return vmids.map((vmid) => {
    const r = records.get(vmid);
    const udc = fs.readTextIfExists(`${CONFIGFS_GADGETS}/pvug-${vmid}/UDC`)?.trim() || undefined;
    const dev = udc ? deviceOnDummyHcd(fs, udc) : undefined;
    const drivers = dev ? interfaceDrivers(fs, dev) : [];
    const id = r?.usbId ?? dev?.usbId;
    const serial = r?.serial ?? dev?.serial;
    const status: GadgetStatus = {
      vmid,
      phase: r?.phase ?? 'unknown',
      udc,
      busPort: dev?.name,
      usbId: id,
      serial,
      guid: id !== undefined && serial !== undefined ? unraidGuidOfUsbId(id, serial) : undefined,
      speed: r?.speed,
      enumerated: udc !== undefined && udcState(fs, udc) === 'configured' && dev !== undefined,
      hostDisk: !dev ? 'absent' : drivers.includes('usb-storage') ? 'claimed' : 'isolated',
      luns: r?.luns ?? [],
      media: lunStatuses(r, readLiveLuns(fs, vmid), notesOf(vmid), resolver(fs)),
      pendingMedia: r?.media,
      mapping: r?.mapping,
    };
    if (!r) status.problem = 'gadget without a record (left over): run pve-usb-gadget down ' + vmid;
    else if (!inConfigfs.has(vmid)) status.problem = 'record without a gadget (left over): run pve-usb-gadget down ' + vmid;
    return status;
  });
}

export function formatStatus(list: readonly GadgetStatus[]): string[] {
  if (list.length === 0) return ['no emulated USB sticks on this host'];
  const lines: string[] = [];
  for (const s of list) {
    lines.push(
      `VM ${s.vmid}: ${s.usbId ?? '?'} serial ${s.serial ?? '?'} GUID ${s.guid ?? '?'} ${s.speed ?? ''} speed on ${s.udc ?? 'no UDC'}` +
        ` (${s.busPort ?? 'not on the bus'}), ${s.enumerated ? 'enumerated' : 'NOT enumerated'}, host disk ${s.hostDisk}` +
        `${s.mapping ? `, mapping ${s.mapping}` : ''}`,
    );
    for (const l of s.media) lines.push(formatLunStatus(l));
    // without a gadget in configfs, what the record says is all there is
    for (const l of s.media.length > 0 ? [] : s.luns) {
      const mode = l.cdrom ? ' (cdrom)' : l.readonly ? ' (read-only)' : '';
      lines.push(`  lun${l.index}: ${l.volume ? describeLunVolume(l.volume) : l.image}${mode}`);
    }
    if (s.pendingMedia) lines.push(`  unfinished media change of lun${s.pendingMedia.lun} (pid ${s.pendingMedia.pid}, ${s.pendingMedia.done}/${s.pendingMedia.steps} writes): the next media command or stop settles it`);
    if (s.problem) lines.push(`  problem: ${s.problem}`);
  }
  return lines;
}
