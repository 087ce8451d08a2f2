/**
 * What a LUN of the notes is backed by, for the commands that copy a stick's bytes (vzdump's hook,
 * `snapshot`): a cdrom image, a Proxmox volume id, or a path judged by the image policy (the notes are
 * hostile: only what pre-start would export is ever read) and then a regular file or a block device.
 * A refusal of the policy is thrown (ImagePolicyError); each caller says what it does with each kind.
 */
import type { HostFs } from '../ports/host-fs.js';
import type { Settings } from '../settings/types.js';
import type { LunSpec } from '../spec/types.js';
import { lunImageKey } from '../storage/resolve.js';
import { looksLikeVolumeId } from '../storage/volume-id.js';
import { checkImage, type ImageContext } from './image-policy.js';

export type LunBacking = { kind: 'cdrom' } | { kind: 'volume' } | { kind: 'file' | 'block'; real: string };

export function lunBacking(fs: HostFs, settings: Settings, ctx: ImageContext, lun: Pick<LunSpec, 'index' | 'image' | 'cdrom'>): LunBacking {
  if (lun.cdrom) return { kind: 'cdrom' };
  if (looksLikeVolumeId(lun.image)) return { kind: 'volume' };
  const real = checkImage(fs, settings, lunImageKey(lun.index), lun.image, true, ctx);
  return { kind: fs.stat(real).kind === 'file' ? 'file' : 'block', real };
}
