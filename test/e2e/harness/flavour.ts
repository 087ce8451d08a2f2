/**
 * Which "Proxmox VE node" the real-kernel tests run on (PVUG_FLAVOUR, provisioned by provision.sh):
 * trixie, the default (Debian trixie root, node 20.19, 6.12 kernel: like Proxmox VE 9, the primary
 * target) or bookworm (Debian bookworm root, node 18.20, 6.1 kernel: like Proxmox VE 8).
 */
export type Flavour = 'bookworm' | 'trixie';

export function flavourOf(env: NodeJS.ProcessEnv = process.env): Flavour {
  const f = env.PVUG_FLAVOUR ?? 'trixie';
  if (f !== 'bookworm' && f !== 'trixie') throw new Error(`PVUG_FLAVOUR must be bookworm or trixie, not ${JSON.stringify(f)}`);
  return f;
}

export const FLAVOUR: Flavour = flavourOf();

/** what each flavour's root runs: Debian's own nodejs of that release */
export const NODE: Record<Flavour, { re: RegExp; text: string; pve: string }> = {
  bookworm: { re: /^v18\.20\./, text: '18.20', pve: 'Proxmox VE 8' },
  trixie: { re: /^v20\.19\./, text: '20.19', pve: 'Proxmox VE 9' },
};

/** "6.1" for 6.1.0-50-amd64, "6.12" for 6.12.118+deb13-amd64 */
export const seriesOfRelease = (release: string): string => /^(\d+\.\d+)/.exec(release)?.[1] ?? release;

/** a literal string as a RegExp source */
export const lit = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
