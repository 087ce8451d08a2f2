// The qemu-server stand-in splits a VM config's `args:` like PVE::Tools::split_args (shellwords).
import { describe, expect, it } from 'vitest';
import { shellWords } from '../e2e/guest/qemu-server.js';
import { shellGuestArgs } from '../e2e/guest/guest-shell.js';

describe('shellWords', () => {
  it('splits on blanks and keeps quoted blanks in one word', () => {
    expect(shellWords(' -kernel /k  -append "console=ttyS0 quiet" x')).toEqual(['-kernel', '/k', '-append', 'console=ttyS0 quiet', 'x']);
    expect(shellWords(`a'b c'd "e\\"f" g\\ h`)).toEqual(['ab cd', 'e"f', 'g h']);
    expect(shellWords('""')).toEqual(['']);
  });
  it('refuses an unbalanced quote', () => {
    expect(() => shellWords('-append "x')).toThrow(/unbalanced/);
  });
  it("the shell guest's args give QEMU one -append word and a socket serial port", () => {
    const words = shellWords(shellGuestArgs(314));
    const append = words[words.indexOf('-append') + 1] ?? '';
    expect(append).toMatch(/^rdinit=\/shell-init console=ttyS0,115200 /);
    expect(words).toContain('socket,id=pvugshell,path=/tmp/vm-314-shell.sock,server=on,wait=off');
    expect(words.at(-1)).toBe('chardev:pvugshell');
  });
});
