import { spawn } from 'node:child_process';

/** Writes text (whole lines) to syslog. */
export type SyslogWriter = (text: string) => Promise<void>;

/**
 * Syslog through `logger`, without waiting for logger to finish: the hook is on the VM start path, and
 * logger's own start-up and exit cost about a second under emulation (bench, "unlock, syslog copy, exit").
 * logger runs in its own session with stdout/stderr on /dev/null (Proxmox waits for EOF on the hook's
 * output: PVE::Tools::run_command reads it to the end); the promise resolves once its stdin pipe has taken the text, which the kernel then
 * keeps for logger after the hook has exited. Never rejects: syslog is a copy of the task log.
 */
export function detachedLogger(command: readonly [string, ...string[]] = ['logger', '-t', 'pve-usb-gadget'], timeoutMs = 5000): SyslogWriter {
  const [file, ...args] = command;
  return (text) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const child = spawn(file, args, { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
      child.on('error', done);
      child.stdin.on('error', done);
      child.stdin.end(text, done);
      child.unref();
    });
}
