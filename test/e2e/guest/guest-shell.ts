/**
 * Runs INSIDE the test VM: the nested Linux guest of the real-kernel tests, and the way to talk to it.
 * The guest is the test kernel with the bench guest's initramfs started at /shell-init
 * (test/e2e/vm/shell-guest-init), booted by the qemu-server stand-in from the VM config's `args:` line,
 * as qemu-server appends `args` to the QEMU command line. It sees the stick only the way a VM does:
 * through qemu-xhci + usb-host. Commands go to its second serial port (a unix socket chardev), one line
 * each; the answer is the command's output and "PVUG-SHELL-END <exit code>".
 */
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { PAYLOAD_KERNEL_ARGS } from '../harness/unraid-fixture.js';
import type { QemuServerStandIn } from './qemu-server.js';

/** Where the tests share the provisioned bench guest (kernel + initramfs) into the test VM. */
export const NESTED_LINUX = '/bench-guest';
const END = /PVUG-SHELL-END (\d+)\n/;

export const shellSocket = (vmid: number) => `/tmp/vm-${vmid}-shell.sock`;

/** The VM config's `args:` value that boots the shell guest (qemu-server splits it like a shell). */
export function shellGuestArgs(vmid: number): string {
  const append = `rdinit=/shell-init ${PAYLOAD_KERNEL_ARGS}`;
  return [
    `-kernel ${NESTED_LINUX}/vmlinuz -initrd ${NESTED_LINUX}/initramfs.cpio.gz -append "${append}"`,
    `-chardev socket,id=pvugshell,path=${shellSocket(vmid)},server=on,wait=off -serial chardev:pvugshell`,
  ].join(' ');
}

export interface ShellAnswer {
  out: string;
  /** the command's exit code; -1 when no answer came in time */
  rc: number;
}

export class GuestShell {
  private buf = '';
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => (this.buf += d.toString('latin1')));
    sock.on('error', () => undefined);
  }

  /** Wait for "PVUG-SHELL ready" on the VM's console, then connect to its command port. */
  static async open(qs: QemuServerStandIn, vmid: number, bootTimeoutMs = 600_000): Promise<{ shell?: GuestShell; bootMs: number; serial: string }> {
    const ready = await qs.waitForSerial(vmid, 'PVUG-SHELL ready', bootTimeoutMs);
    if (!ready.found) return { bootMs: ready.ms, serial: ready.serial };
    const sock = connect(shellSocket(vmid));
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    return { shell: new GuestShell(sock), bootMs: ready.ms, serial: ready.serial };
  }

  /** One command line (no line breaks) in the guest; its output and exit code. */
  async run(command: string, timeoutMs = 60_000): Promise<ShellAnswer> {
    if (/[\r\n]/.test(command)) throw new Error('a guest command is one line');
    this.buf = '';
    this.sock.write(`${command}\n`);
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      const m = END.exec(this.buf);
      if (m) {
        const out = this.buf.slice(0, m.index);
        this.buf = this.buf.slice(m.index + m[0].length);
        return { out, rc: Number(m[1]) };
      }
      await sleep(50);
    }
    return { out: this.buf, rc: -1 };
  }

  /** Run `command` every `everyMs` until its output matches `want` (or the time is up); the last answer. */
  async until(command: string, want: RegExp, timeoutMs = 60_000, everyMs = 500): Promise<ShellAnswer & { tries: number }> {
    const t0 = Date.now();
    let tries = 0;
    let last: ShellAnswer = { out: '', rc: -1 };
    while (Date.now() - t0 < timeoutMs) {
      tries++;
      last = await this.run(command, timeoutMs);
      if (want.test(last.out)) break;
      await sleep(everyMs);
    }
    return { ...last, tries };
  }

  close(): void {
    this.sock.destroy();
  }
}
