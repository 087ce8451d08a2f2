// The e2e harness boots the test VM once more only when its kernel died before the job's script ran
// (a TCG flake seen at boot: "Oops: int3" while the kernel patches its own text).
import { describe, expect, it } from 'vitest';
import { earlyKernelCrash } from '../e2e/harness/vm.js';

describe('earlyKernelCrash', () => {
  it('sees an oops or a panic on the console', () => {
    expect(earlyKernelCrash('Booting from ROM..[    1.389042] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI\n')).toBe(true);
    expect(earlyKernelCrash('[    2.1] Kernel panic - not syncing: IO-APIC + timer doesn\'t work!\n')).toBe(true);
    expect(earlyKernelCrash('[    0.9] BUG: kernel NULL pointer dereference, address: 0000000000000000\n')).toBe(true);
  });
  it('not on a normal boot or a test that prints the word', () => {
    expect(earlyKernelCrash('SeaBIOS (version 1.16.2)\nBooting from ROM..\npve-usb-gadget: built pvug-100\n')).toBe(false);
    expect(earlyKernelCrash('oops: the test said so\n')).toBe(false);
  });
});
