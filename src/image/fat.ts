/**
 * A small read-only FAT12/16/32 reader: boot sector fields, directory listings, path lookup. Enough for
 * `image inspect` and for tests to check what mkfs.fat/mtools/syslinux left, without any tool.
 */

/** Reads `length` bytes at absolute byte `offset` of the image (short reads padded with zeros). */
export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

export type FatType = 'FAT12' | 'FAT16' | 'FAT32';

export interface FatBootSector {
  oemName: string;
  bytesPerSector: number;
  sectorsPerCluster: number;
  reservedSectors: number;
  fatCount: number;
  rootEntries: number;
  totalSectors: number;
  sectorsPerFat: number;
  hiddenSectors: number;
  /** FAT32 only: first cluster of the root directory */
  rootCluster: number;
  volumeId: number;
  /** label from the extended BPB, trailing spaces removed; "" when it says NO NAME */
  label: string;
  /** the "FAT32   " style string at the end of the BPB (informative only) */
  fsTypeText: string;
  clusters: number;
  /** decided from the cluster count, as the specification says */
  type: FatType;
}

const trimLabel = (s: string) => s.replace(/[\s\0]+$/, '');

/** Parses a FAT boot sector, or returns undefined when the sector is not one. */
export function parseFatBootSector(s: Buffer): FatBootSector | undefined {
  if (s.length < 512 || s[510] !== 0x55 || s[511] !== 0xaa) return undefined;
  if (!(s[0] === 0xeb || s[0] === 0xe9)) return undefined;
  const bytesPerSector = s.readUInt16LE(11);
  const sectorsPerCluster = s[13] ?? 0;
  const reservedSectors = s.readUInt16LE(14);
  const fatCount = s[16] ?? 0;
  const rootEntries = s.readUInt16LE(17);
  const total16 = s.readUInt16LE(19);
  const fat16Size = s.readUInt16LE(22);
  const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;
  if (![512, 1024, 2048, 4096].includes(bytesPerSector) || !isPow2(sectorsPerCluster)) return undefined;
  if (reservedSectors < 1 || fatCount < 1) return undefined;
  const sectorsPerFat = fat16Size || s.readUInt32LE(36);
  const totalSectors = total16 || s.readUInt32LE(32);
  const rootDirSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const dataSectors = totalSectors - (reservedSectors + fatCount * sectorsPerFat + rootDirSectors);
  if (sectorsPerFat === 0 || dataSectors <= 0) return undefined;
  const clusters = Math.floor(dataSectors / sectorsPerCluster);
  const type: FatType = clusters < 4085 ? 'FAT12' : clusters < 65525 ? 'FAT16' : 'FAT32';
  const ext = type === 'FAT32' ? 64 : 36; // extended BPB: drive number, reserved, signature, id, label, type
  const hasExt = s[ext + 2] === 0x29;
  const label = hasExt ? trimLabel(s.toString('latin1', ext + 7, ext + 18)) : '';
  return {
    oemName: trimLabel(s.toString('latin1', 3, 11)),
    bytesPerSector,
    sectorsPerCluster,
    reservedSectors,
    fatCount,
    rootEntries,
    totalSectors,
    sectorsPerFat,
    hiddenSectors: s.readUInt32LE(28),
    rootCluster: type === 'FAT32' ? s.readUInt32LE(44) : 0,
    volumeId: hasExt ? s.readUInt32LE(ext + 3) : 0,
    label: label === 'NO NAME' ? '' : label,
    fsTypeText: hasExt ? trimLabel(s.toString('latin1', ext + 18, ext + 26)) : '',
    clusters,
    type,
  };
}

export interface FatDirEntry {
  /** long name when there is one, else the 8.3 name as displayed */
  name: string;
  shortName: string;
  isDirectory: boolean;
  isVolumeLabel: boolean;
  hidden: boolean;
  system: boolean;
  size: number;
  firstCluster: number;
}

function shortNameOf(e: Buffer): string {
  const base = trimLabel(e.toString('latin1', 0, 8)).replace(/^\x05/, '\xe5');
  const ext = trimLabel(e.toString('latin1', 8, 11));
  const nt = e[12] ?? 0;
  const b = nt & 0x08 ? base.toLowerCase() : base;
  const x = nt & 0x10 ? ext.toLowerCase() : ext;
  return x ? `${b}.${x}` : b;
}

function shortNameChecksum(e: Buffer): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + (e[i] ?? 0)) & 0xff;
  return sum;
}

/** Parses raw directory bytes into entries (deleted entries and "." / ".." skipped). */
export function parseDirectory(bytes: Buffer): FatDirEntry[] {
  const out: FatDirEntry[] = [];
  let lfnParts: string[] = [];
  let lfnChecksum = -1;
  for (let off = 0; off + 32 <= bytes.length; off += 32) {
    const e = bytes.subarray(off, off + 32);
    const first = e[0] ?? 0;
    if (first === 0x00) break;
    if (first === 0xe5) {
      lfnParts = [];
      continue;
    }
    const attr = e[11] ?? 0;
    if (attr === 0x0f) {
      const seq = first & 0x1f;
      if (first & 0x40) lfnParts = [];
      const chars = Buffer.concat([e.subarray(1, 11), e.subarray(14, 26), e.subarray(28, 32)]);
      let part = '';
      for (let i = 0; i + 1 < chars.length; i += 2) {
        const c = chars.readUInt16LE(i);
        if (c === 0x0000 || c === 0xffff) break;
        part += String.fromCharCode(c);
      }
      lfnParts[seq - 1] = part;
      lfnChecksum = e[13] ?? -1;
      continue;
    }
    const shortName = shortNameOf(e);
    const longName = lfnParts.length > 0 && lfnChecksum === shortNameChecksum(e) ? lfnParts.join('') : '';
    lfnParts = [];
    if (shortName === '.' || shortName === '..') continue;
    const isVolumeLabel = (attr & 0x08) !== 0;
    out.push({
      name: isVolumeLabel ? trimLabel(e.toString('latin1', 0, 11)) : longName || shortName,
      shortName,
      isDirectory: (attr & 0x10) !== 0,
      isVolumeLabel,
      hidden: (attr & 0x02) !== 0,
      system: (attr & 0x04) !== 0,
      size: e.readUInt32LE(28),
      firstCluster: (e.readUInt16LE(20) << 16) | e.readUInt16LE(26),
    });
  }
  return out;
}

/** One FAT volume inside an image, starting at byte `offset`. */
export class FatVolume {
  private readonly fatCache = new Map<number, Buffer>();

  private constructor(
    private readonly readAt: ReadAt,
    private readonly offset: number,
    readonly boot: FatBootSector,
  ) {}

  static async open(readAt: ReadAt, offset: number): Promise<FatVolume | undefined> {
    const boot = parseFatBootSector(await readAt(offset, 512));
    return boot && new FatVolume(readAt, offset, boot);
  }

  get clusterBytes(): number {
    return this.boot.bytesPerSector * this.boot.sectorsPerCluster;
  }

  private get fatStart(): number {
    return this.offset + this.boot.reservedSectors * this.boot.bytesPerSector;
  }

  private get rootDirStart(): number {
    return this.fatStart + this.boot.fatCount * this.boot.sectorsPerFat * this.boot.bytesPerSector;
  }

  private get dataStart(): number {
    return this.rootDirStart + Math.ceil((this.boot.rootEntries * 32) / this.boot.bytesPerSector) * this.boot.bytesPerSector;
  }

  private async nextCluster(cluster: number): Promise<number> {
    const { type, bytesPerSector } = this.boot;
    const pos = type === 'FAT32' ? cluster * 4 : type === 'FAT16' ? cluster * 2 : Math.floor(cluster * 1.5);
    const sector = Math.floor(pos / bytesPerSector);
    // FAT12 entries may straddle two sectors: cache pairs of sectors
    let buf = this.fatCache.get(sector);
    if (!buf) {
      buf = await this.readAt(this.fatStart + sector * bytesPerSector, bytesPerSector * 2);
      this.fatCache.set(sector, buf);
    }
    const at = pos - sector * bytesPerSector;
    if (type === 'FAT32') return buf.readUInt32LE(at) & 0x0fffffff;
    if (type === 'FAT16') return buf.readUInt16LE(at);
    const v = buf.readUInt16LE(at);
    return cluster & 1 ? v >> 4 : v & 0x0fff;
  }

  /** The cluster chain from `first`, stopping at end-of-chain, bad or out-of-range values and loops. */
  async chain(first: number): Promise<number[]> {
    const eoc = this.boot.type === 'FAT32' ? 0x0ffffff7 : this.boot.type === 'FAT16' ? 0xfff7 : 0xff7;
    const out: number[] = [];
    let c = first;
    while (c >= 2 && c < this.boot.clusters + 2 && c < eoc) {
      if (out.length > this.boot.clusters) break;
      out.push(c);
      c = await this.nextCluster(c);
    }
    return out;
  }

  private async readClusters(first: number, maxBytes: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let got = 0;
    for (const c of await this.chain(first)) {
      if (got >= maxBytes) break;
      parts.push(await this.readAt(this.dataStart + (c - 2) * this.clusterBytes, this.clusterBytes));
      got += this.clusterBytes;
    }
    return Buffer.concat(parts).subarray(0, maxBytes);
  }

  /** Entries of the root directory (including the volume-label entry, if any). */
  async rootEntries(): Promise<FatDirEntry[]> {
    if (this.boot.type === 'FAT32') return parseDirectory(await this.readClusters(this.boot.rootCluster, 4 * 1024 * 1024));
    return parseDirectory(await this.readAt(this.rootDirStart, this.boot.rootEntries * 32));
  }

  async list(dir: FatDirEntry | undefined): Promise<FatDirEntry[]> {
    if (!dir) return this.rootEntries();
    return parseDirectory(await this.readClusters(dir.firstCluster, 4 * 1024 * 1024));
  }

  /** Case-insensitive path lookup ("EFI/BOOT/BOOTX64.EFI"), as firmware and syslinux do on FAT. */
  async lookup(path: string): Promise<FatDirEntry | undefined> {
    let dir: FatDirEntry | undefined;
    const parts = path.split('/').filter(Boolean);
    for (const [i, part] of parts.entries()) {
      const want = part.toUpperCase();
      const found = (await this.list(dir)).find(
        (e) => !e.isVolumeLabel && (e.name.toUpperCase() === want || e.shortName.toUpperCase() === want),
      );
      if (!found || (i < parts.length - 1 && !found.isDirectory)) return undefined;
      dir = found;
    }
    return dir;
  }

  /** A file's contents (directories and files over `maxBytes` refused). */
  async readFile(entry: FatDirEntry, maxBytes = 16 * 1024 * 1024): Promise<Buffer> {
    if (entry.isDirectory || entry.size > maxBytes) throw new RangeError(`cannot read ${entry.name}`);
    return this.readClusters(entry.firstCluster, entry.size);
  }
}
