/**
 * Pure: the nested QEMU's boot devices of the bench's "guest" section (bench-guest.ts, bench-sources.ts),
 * for the host side too (scripts/bench.ts checks --boot-sources and sizes the section's timeout with them).
 * QEMU's usb-storage carries no licensed stick's GUID: its VID 0x46f4 and PID 0x0001 are fixed in its
 * device descriptor (QEMU hw/usb/dev-storage.c, `desc.id`: idVendor 0x46f4 "CRC16() of QEMU", idProduct
 * 0x0001; the device has no property for either); only its serial can be set (the USB bus property
 * serial=, else "1-<controller path>-<port>", hw/usb/desc.c usb_desc_create_serial).
 */
export type BootSource = 'stick' | 'qemu-usb-storage' | 'sata';
export const BOOT_SOURCES: readonly BootSource[] = ['stick', 'qemu-usb-storage', 'sata'];

/** the stick's USB ids in the bench (the gadget's notes and usb-host's match) */
export const BENCH_USB = { vendor_id: '0x1d6b', product_id: '0x0105' };

/**
 * The nested QEMU's boot controller and disk for `source`; `image` is the file the two QEMU devices serve
 * (the stick serves the file its notes name). Each boots with bootindex=100, as qemu-server gives the
 * first entry of the boot order.
 */
export function bootDeviceArgs(source: BootSource, image: string): string[] {
  switch (source) {
    case 'stick':
      // as qemu-server passes a USB mapping through (what the guest section has always measured)
      return ['-device', 'qemu-xhci,p2=15,p3=15,id=xhci', '-device', `usb-host,bus=xhci.0,port=1,vendorid=${BENCH_USB.vendor_id},productid=${BENCH_USB.product_id},id=usb0,bootindex=100`];
    case 'qemu-usb-storage':
      // the same controller and port; removable=on as our stick is (the notes' removable defaults to true)
      return [
        '-device', 'qemu-xhci,p2=15,p3=15,id=xhci',
        '-drive', `if=none,id=stick,format=raw,readonly=on,file=${image}`,
        '-device', 'usb-storage,bus=xhci.0,port=1,drive=stick,removable=on,id=usb0,bootindex=100',
      ];
    case 'sata':
      // as qemu-server's sata0 (ahci is QEMU's alias of ich9-ahci). Not readonly=on: ide-hd refuses a
      // read-only drive ("Can't use a read-only drive", hw/ide/core.c); the loader only reads.
      return [
        '-device', 'ahci,id=ahci0',
        '-drive', `if=none,id=drive-sata0,format=raw,file=${image}`,
        '-device', 'ide-hd,bus=ahci0.0,drive=drive-sata0,id=sata0,bootindex=100',
      ];
  }
}

/** Under nested TCG the stick read ~2.7 MB/s (2026-11-21); allow down to ~0.7 MiB/s. */
export const bootTimeoutMs = (mib: number) => 60_000 + mib * 1500;

