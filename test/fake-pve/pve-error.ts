/**
 * How PVE handlers fail: a plain `die "text\n"` becomes HTTP 500 with that text; PVE::Exception carries
 * its own code (403 from raise_perm_exc, 400 from raise_param_exc with a per-parameter `errors` object).
 * The status line shows the message's first line; the JSON body has "data": null, the full "message"
 * (pve-http-server >= 5.2.0) and "errors" when present.
 */
export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message.endsWith('\n') ? message : `${message}\n`);
  }
}

/** `die "..."` in a handler */
export function die(message: string): PveError {
  return new PveError(500, message);
}

/** raise_perm_exc("$path, $privs") */
export function permissionDenied(what?: string): PveError {
  return new PveError(403, `Permission check failed${what ? ` (${what})` : ''}`);
}

/** raise_param_exc({...}) */
export function paramError(errors: Record<string, string>): PveError {
  return new PveError(400, 'Parameter verification failed.', errors);
}

export const NOT_IN_SCHEMA = 'property is not defined in schema and the schema does not allow additional properties';
export const MISSING = 'property is missing and it is not optional';
