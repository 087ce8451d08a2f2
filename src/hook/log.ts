import type { SyslogWriter } from '../host/syslog.js';
import type { Log } from '../ports/log.js';

/**
 * Hook output. stdout/stderr land in the Proxmox task log; the same lines go to syslog in one `logger`
 * call at the end (one process, not one per line, not waited for: the hook is on the VM start path).
 * Secrets registered with `redact` are masked in every line, as a second line of defence: by design
 * no secret is ever formatted into a message.
 */
export interface Logger extends Log {
  redact(secret: string): void;
  lines(): readonly string[];
}

export interface LogSink {
  out(line: string): void;
  err(line: string): void;
}

export const processSink: LogSink = {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
};

export function createLogger(prefix: string, sink: LogSink = processSink): Logger {
  const secrets: string[] = [];
  const all: string[] = [];
  const mask = (s: string) => secrets.reduce((acc, sec) => acc.split(sec).join('***'), s);
  const emit = (level: 'info' | 'warn' | 'error', msg: string) => {
    const line = mask(`${prefix}: ${level === 'info' ? '' : `${level.toUpperCase()}: `}${msg}`);
    all.push(line);
    if (level === 'info') sink.out(line);
    else sink.err(line);
  };
  return {
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
    redact: (s) => {
      if (s.length >= 4) secrets.push(s);
    },
    lines: () => all,
  };
}

export async function flushToSyslog(write: SyslogWriter, log: Logger): Promise<void> {
  if (log.lines().length > 0) await write(`${log.lines().join('\n')}\n`);
}
