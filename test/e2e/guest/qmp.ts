/**
 * Runs INSIDE the test VM: one QMP command to a QEMU started with `-qmp unix:<path>,server=on,wait=off`,
 * the way qemu-server's mon_cmd talks to a running VM (greeting, qmp_capabilities, the command).
 */
import { connect } from 'node:net';

export function qmpCommand(socketPath: string, execute: string, args?: Record<string, unknown>, timeoutMs = 20_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    let step = 0;
    const timer = setTimeout(() => fail(new Error(`QMP ${execute}: no answer in ${timeoutMs} ms`)), timeoutMs);
    const fail = (err: Error) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    sock.on('error', fail);
    sock.on('data', (chunk) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc?: string }; event?: string };
        if (msg.event) continue;
        if (step === 0 && msg.QMP) {
          step = 1;
          sock.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
        } else if (step === 1) {
          if (msg.error) return fail(new Error(msg.error.desc ?? 'qmp_capabilities failed'));
          step = 2;
          sock.write(`${JSON.stringify(args ? { execute, arguments: args } : { execute })}\n`);
        } else if (step === 2) {
          clearTimeout(timer);
          sock.end();
          if (msg.error) reject(new Error(msg.error.desc ?? `${execute} failed`));
          else resolve(msg.return);
        }
      }
    });
  });
}
