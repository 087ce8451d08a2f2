/** The VM facts the hook needs: from the node's config file (pre-start), or from the API (the CLI). */
export interface VmInfo {
  /** the notes, decoded */
  description: string;
  /** uuid= of the smbios1 option, if any */
  smbiosUuid?: string;
  /** main-section options as strings (usb0, machine, ostype, ...) */
  config: Record<string, string>;
  source: 'api' | 'local';
}

export interface VmSource {
  read(vmid: number): Promise<VmInfo>;
}

export function smbiosUuid(smbios1: string | undefined): string | undefined {
  if (!smbios1) return undefined;
  for (const part of smbios1.split(',')) {
    const [k, v] = part.split('=', 2);
    if (k?.trim() === 'uuid' && v && /^[0-9a-fA-F-]{32,36}$/.test(v.trim())) return v.trim().toLowerCase();
  }
  return undefined;
}
