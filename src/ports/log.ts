/**
 * The narrow logging port: what a module that only reports needs. hook/log.ts's Logger is one (it adds
 * redaction and the collected lines for syslog); modules below the hook ask for this, not for HookDeps.
 */
export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}
