/**
 * The benchmark's "payload loader": an MBR boot sector that, like syslinux loading unRAID's bzimage and
 * bzroot, reads the disk it was booted from through the BIOS (INT 13h AH=42h extended reads of 127
 * sectors, as syslinux's default MaxTransfer) and prints on COM1 when it starts and when it is done:
 *   "PVUG-LOAD-START", then after `calls` reads "PVUG-LOAD-DONE" (or "PVUG-LOAD-FAIL" on a BIOS error).
 * The nested guest's SeaBIOS serves these reads from the passed-through stick with its own xHCI and
 * USB mass-storage drivers, so START..DONE is the time a BIOS boot loader needs for the payload.
 *
 * Assembled with GNU as (.code16) and transcribed with objdump's listing; offsets in the comments are
 * from the start of the sector. Data is addressed as 0x7c00 + offset with DS = 0, calls and jumps are
 * relative, so it runs whether the BIOS enters at 0000:7C00 or 07C0:0000. Reads land in 1000:0000.
 */
export const LOADER_START = 'PVUG-LOAD-START';
export const LOADER_DONE = 'PVUG-LOAD-DONE';
export const LOADER_FAIL = 'PVUG-LOAD-FAIL';
/** sectors per INT 13h call (127 x 512 = 65,024 bytes: fits the 64 KiB segment) */
export const SECTORS_PER_CALL = 127;

const CODE: readonly number[] = [
  0xfa,                                  //    0: cli
  0x31, 0xc0,                            //    1: xor %ax,%ax
  0x8e, 0xd8,                            //    3: mov %ax,%ds
  0x8e, 0xd0,                            //    5: mov %ax,%ss
  0xbc, 0x00, 0x7c,                      //    7: mov $0x7c00,%sp
  0xfb,                                  //    a: sti
  0xfc,                                  //    b: cld
  0x88, 0x16, 0x86, 0x7c,                //    c: mov %dl,0x7c86
  0xba, 0xf9, 0x03,                      //   10: mov $0x3f9,%dx
  0xb0, 0x00,                            //   13: mov $0x0,%al
  0xee,                                  //   15: out %al,(%dx)
  0xba, 0xfb, 0x03,                      //   16: mov $0x3fb,%dx
  0xb0, 0x80,                            //   19: mov $0x80,%al
  0xee,                                  //   1b: out %al,(%dx)
  0xba, 0xf8, 0x03,                      //   1c: mov $0x3f8,%dx
  0xb0, 0x01,                            //   1f: mov $0x1,%al
  0xee,                                  //   21: out %al,(%dx)
  0xba, 0xf9, 0x03,                      //   22: mov $0x3f9,%dx
  0xb0, 0x00,                            //   25: mov $0x0,%al
  0xee,                                  //   27: out %al,(%dx)
  0xba, 0xfb, 0x03,                      //   28: mov $0x3fb,%dx
  0xb0, 0x03,                            //   2b: mov $0x3,%al
  0xee,                                  //   2d: out %al,(%dx)
  0xba, 0xfa, 0x03,                      //   2e: mov $0x3fa,%dx
  0xb0, 0xc7,                            //   31: mov $0xc7,%al
  0xee,                                  //   33: out %al,(%dx)
  0xba, 0xfc, 0x03,                      //   34: mov $0x3fc,%dx
  0xb0, 0x03,                            //   37: mov $0x3,%al
  0xee,                                  //   39: out %al,(%dx)
  0xbe, 0x9c, 0x7c,                      //   3a: mov $0x7c9c,%si
  0xe8, 0x2e, 0x00,                      //   3d: call 0x6e
  0xbe, 0x8c, 0x7c,                      //   40: mov $0x7c8c,%si
  0xb4, 0x42,                            //   43: mov $0x42,%ah
  0x8a, 0x16, 0x86, 0x7c,                //   45: mov 0x7c86,%dl
  0xcd, 0x13,                            //   49: int $0x13
  0x72, 0x17,                            //   4b: jb 0x64
  0xa1, 0x8e, 0x7c,                      //   4d: mov 0x7c8e,%ax
  0x01, 0x06, 0x94, 0x7c,                //   50: add %ax,0x7c94
  0x83, 0x16, 0x96, 0x7c, 0x00,          //   54: adcw $0x0,0x7c96
  0xff, 0x0e, 0x87, 0x7c,                //   59: decw 0x7c87
  0x75, 0xe1,                            //   5d: jne 0x40
  0xbe, 0xae, 0x7c,                      //   5f: mov $0x7cae,%si
  0xeb, 0x03,                            //   62: jmp 0x67
  0xbe, 0xbf, 0x7c,                      //   64: mov $0x7cbf,%si
  0xe8, 0x04, 0x00,                      //   67: call 0x6e
  0xfa,                                  //   6a: cli
  0xf4,                                  //   6b: hlt
  0xeb, 0xfc,                            //   6c: jmp 0x6a
  0xac,                                  //   6e: lods %ds:(%si),%al
  0x84, 0xc0,                            //   6f: test %al,%al
  0x74, 0x12,                            //   71: je 0x85
  0x88, 0xc3,                            //   73: mov %al,%bl
  0xba, 0xfd, 0x03,                      //   75: mov $0x3fd,%dx
  0xec,                                  //   78: in (%dx),%al
  0xa8, 0x20,                            //   79: test $0x20,%al
  0x74, 0xfb,                            //   7b: je 0x78
  0x88, 0xd8,                            //   7d: mov %bl,%al
  0xba, 0xf8, 0x03,                      //   7f: mov $0x3f8,%dx
  0xee,                                  //   82: out %al,(%dx)
  0xeb, 0xe9,                            //   83: jmp 0x6e
  0xc3,                                  //   85: ret
];

// Data layout (after the code; the code addresses these offsets).
const DRIVE = 0x86; //     byte: boot drive from DL
const REMAINING = 0x87; // word: calls left
const DAP = 0x8c; //       disk address packet: size 16, 0, count, buffer offset, buffer segment, LBA (u64)
const MESSAGES: readonly [number, string][] = [
  [0x9c, LOADER_START],
  [0xae, LOADER_DONE],
  [0xbf, LOADER_FAIL],
];

export interface LoaderPlan {
  /** INT 13h calls; each reads SECTORS_PER_CALL sectors */
  calls: number;
  /** bytes the loader reads */
  bytes: number;
}

/**
 * The most the loader reads: its call counter is a 16-bit word (0x87, `decw`), so 65,535 calls of 127
 * sectors = 4,261,347,840 bytes (~3.97 GiB). The other limits are wider: the LBA advances as 32 bits
 * (`add` + `adc` on the DAP's low two words: 2 TiB) and every call lands in the same 64 KiB at 1000:0000
 * (127 x 512 = 65,024 bytes fits; the payload is read, not kept). An unRAID-sized 400 MiB is 6,451 calls.
 */
export const LOADER_MAX_BYTES = 0xffff * SECTORS_PER_CALL * 512;

/** How many calls read at least `bytes` (the loader reads whole calls). */
export function loaderPlan(bytes: number): LoaderPlan {
  const per = SECTORS_PER_CALL * 512;
  const calls = Math.max(1, Math.ceil(bytes / per));
  if (calls > 0xffff) throw new RangeError(`payload too large for the loader: ${bytes} bytes (at most ${LOADER_MAX_BYTES})`);
  return { calls, bytes: calls * per };
}

/** The 512-byte boot sector that reads `plan.calls` x 127 sectors from LBA 0 on and reports on COM1. */
export function payloadLoaderSector(plan: LoaderPlan): Buffer {
  if (CODE.length !== DRIVE) throw new Error(`loader code is ${CODE.length} bytes, layout expects ${DRIVE}`);
  const sector = Buffer.alloc(512, 0);
  Buffer.from(CODE).copy(sector, 0);
  sector.writeUInt16LE(plan.calls, REMAINING);
  sector.writeUInt8(16, DAP);
  sector.writeUInt16LE(SECTORS_PER_CALL, DAP + 2);
  sector.writeUInt16LE(0x0000, DAP + 4);
  sector.writeUInt16LE(0x1000, DAP + 6);
  // LBA 0 onwards (DAP + 8..15 stay zero)
  for (const [at, text] of MESSAGES) sector.write(`${text}\r\n\0`, at, 'ascii');
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}
