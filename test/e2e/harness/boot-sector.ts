/**
 * A tiny bootable disk for end-to-end tests: an MBR boot sector whose code prints a marker on the first
 * serial port (COM1, I/O 0x3f8) and halts. A nested QEMU run with `-serial file:...` then proves the
 * guest's firmware read and booted exactly this disk, by finding the marker in the serial log.
 *
 * The code is hand-assembled 16-bit real mode (no assembler on the test machines). It uses only relative
 * jumps and DS-relative data at absolute offset 0x7c00 + n with DS = 0, so it works whether the BIOS
 * enters it as 0000:7C00 or 07C0:0000. The sector has no partition table.
 */
import { writeFile, open } from 'node:fs/promises';

export const SECTOR_SIZE = 512;
/** Longest marker accepted: it must fit with the code, CR LF NUL and the 0x55 0xAA signature. */
export const MAX_MARKER_LENGTH = 400;

const LOAD_ADDRESS = 0x7c00;
const COM1 = 0x3f8;

function lo(word: number): number {
  return word & 0xff;
}
function hi(word: number): number {
  return (word >> 8) & 0xff;
}

/** `mov dx, port` ; `mov al, value` ; `out dx, al` */
function outByte(port: number, value: number): number[] {
  return [0xba, lo(port), hi(port), 0xb0, value, 0xee];
}

/** The machine code; `messageAddress` is where the NUL-terminated message will sit in memory. */
function bootCode(messageAddress: number): number[] {
  const code: number[] = [
    0xfa, //                      cli                 ; no interrupts while we set up segments
    0x31, 0xc0, //                xor ax, ax
    0x8e, 0xd8, //                mov ds, ax          ; lodsb reads DS:SI, DS = 0
    0x8e, 0xd0, //                mov ss, ax
    0xbc, lo(LOAD_ADDRESS), hi(LOAD_ADDRESS), // mov sp, 0x7c00 ; stack grows down below the code
    0xfc, //                      cld                 ; lodsb walks forwards
    // UART init, 115200 8N1, polled (SeaBIOS leaves it usable, but do not depend on that):
    ...outByte(COM1 + 1, 0x00), // IER = 0: no UART interrupts
    ...outByte(COM1 + 3, 0x80), // LCR: DLAB = 1 to reach the divisor latch
    ...outByte(COM1 + 0, 0x01), // DLL = 1 (divisor 1 = 115200 baud)
    ...outByte(COM1 + 1, 0x00), // DLM = 0
    ...outByte(COM1 + 3, 0x03), // LCR: 8 data bits, no parity, 1 stop bit, DLAB = 0
    ...outByte(COM1 + 2, 0xc7), // FCR: enable and clear the FIFOs
    ...outByte(COM1 + 4, 0x03), // MCR: DTR + RTS
    0xbe, lo(messageAddress), hi(messageAddress), // mov si, message
  ];
  const loop = [
    // next:
    0xac, //                      lodsb               ; al = [ds:si++]
    0x84, 0xc0, //                test al, al
    0x74, 0x00, //                jz done             ; rel8 patched below
    0x88, 0xc3, //                mov bl, al          ; keep the byte while we poll the LSR
    0xba, lo(COM1 + 5), hi(COM1 + 5), // mov dx, 0x3fd (LSR)
    // wait:
    0xec, //                      in al, dx
    0xa8, 0x20, //                test al, 0x20       ; LSR bit 5: transmit holding register empty
    0x74, 0xfb, //                jz wait             ; -5: back over jz, test, in
    0x88, 0xd8, //                mov al, bl
    0xba, lo(COM1), hi(COM1), //  mov dx, 0x3f8 (THR)
    0xee, //                      out dx, al
    0xeb, 0x00, //                jmp next            ; rel8 patched below
  ];
  // jz done: from the end of the jz (offset 5 in the loop) to the end of the loop
  loop[4] = loop.length - 5;
  // jmp next: from the end of the loop back to its start
  loop[loop.length - 1] = 0x100 - loop.length;
  const done = [
    0xfa, //                      cli
    0xf4, //                      hlt                 ; sleep; nothing can wake us but NMI/SMI
    0xeb, 0xfc, //                jmp done            ; -4: if we ever wake, halt again
  ];
  return [...code, ...loop, ...done];
}

/** Length of the machine code, which does not depend on the marker. */
const CODE_LENGTH = bootCode(0).length;

/**
 * A 512-byte MBR boot sector that writes `marker + "\r\n"` to COM1 and halts.
 * The marker must be 1..MAX_MARKER_LENGTH printable ASCII characters (0x20..0x7e).
 */
export function markerBootSector(marker: string): Buffer {
  if (marker.length === 0 || marker.length > MAX_MARKER_LENGTH) {
    throw new RangeError(`boot sector marker must be 1..${MAX_MARKER_LENGTH} characters, got ${marker.length}`);
  }
  if (!/^[\x20-\x7e]+$/.test(marker)) {
    throw new RangeError('boot sector marker must be printable ASCII (0x20..0x7e)');
  }
  const sector = Buffer.alloc(SECTOR_SIZE, 0);
  const code = bootCode(LOAD_ADDRESS + CODE_LENGTH);
  Buffer.from(code).copy(sector, 0);
  // message: marker, CR, LF, NUL terminator (the buffer is zero-filled)
  sector.write(`${marker}\r\n`, CODE_LENGTH, 'ascii');
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** A raw disk image of `sizeBytes` (a multiple of 512): sector 0 is the marker boot sector, the rest zero. */
export function markerDiskImage(marker: string, sizeBytes: number): Buffer {
  checkDiskSize(sizeBytes);
  const image = Buffer.alloc(sizeBytes, 0);
  markerBootSector(marker).copy(image, 0);
  return image;
}

/** Like markerDiskImage, but writes the image file sparsely (only sector 0 is stored). */
export async function writeMarkerDiskImage(path: string, marker: string, sizeBytes: number): Promise<void> {
  checkDiskSize(sizeBytes);
  const sector = markerBootSector(marker);
  await writeFile(path, sector);
  const file = await open(path, 'r+');
  try {
    await file.truncate(sizeBytes);
  } finally {
    await file.close();
  }
}

function checkDiskSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < SECTOR_SIZE || sizeBytes % SECTOR_SIZE !== 0) {
    throw new RangeError(`disk image size must be a positive multiple of ${SECTOR_SIZE} bytes, got ${sizeBytes}`);
  }
}
