import { GadgetError, type ErrorDetails } from '../errors.js';

/**
 * What went wrong talking to the Proxmox API, in the terms an admin acts on.
 * - unreachable: no TCP/HTTP answer (pveproxy down, wrong url/port, timeout, pveproxy could not reach the node)
 * - tls: the server certificate did not verify against the configured CA
 * - auth: the token was refused (401)
 * - permission: the token lacks a privilege, or the action is reserved to root@pam
 * - lock-timeout: the VM config flock was held for 10 s (e.g. by the start task running the hook)
 * - not-found: VM, node, mapping or API endpoint does not exist
 * - bad-request: PVE rejected a parameter (400), or the client refused an invalid argument before sending
 * - conflict: digest mismatch, an id that already exists, a config `lock:` (backup, migrate, ...)
 * - server: anything else PVE answered with an error
 */
export type ProxmoxErrorKind =
  | 'unreachable'
  | 'tls'
  | 'auth'
  | 'permission'
  | 'lock-timeout'
  | 'not-found'
  | 'bad-request'
  | 'conflict'
  | 'server';

/** The thing a not-found error is about. */
export interface NotFoundTarget {
  type: 'vm' | 'node' | 'mapping' | 'snapshot' | 'endpoint' | 'other';
  id?: string;
}

/** The ACL path and privileges a permission error names (from PVE's "Permission check failed (path, privs)"). */
export interface MissingPermission {
  aclPath?: string;
  /** one of these is needed (PVE joins alternatives with "|") */
  privileges: string[];
  /** the config key PVE reserves to root@pam ("only root can set 'usb0' config ...") */
  rootOnlyKey?: string;
}

export interface ProxmoxErrorDetails extends ErrorDetails {
  kind: ProxmoxErrorKind;
  /** HTTP status, when PVE answered */
  status?: number;
  /** "PUT /nodes/pve/qemu/100/config" (API path, no host, no query) */
  request?: string;
  /** PVE's own error text (status line / JSON "message"), trimmed */
  pveMessage?: string;
  /** per-parameter errors of a 400 answer */
  paramErrors?: Record<string, string>;
  permission?: MissingPermission;
  notFound?: NotFoundTarget;
}

/** An error from the Proxmox API edge. Never carries the token secret (see classify.ts `redact`). */
export class ProxmoxApiError extends GadgetError {
  readonly kind: ProxmoxErrorKind;
  readonly status?: number;
  readonly request?: string;
  readonly pveMessage?: string;
  readonly paramErrors?: Readonly<Record<string, string>>;
  readonly permission?: MissingPermission;
  readonly notFound?: NotFoundTarget;

  constructor(message: string, details: ProxmoxErrorDetails) {
    super(message, details);
    this.kind = details.kind;
    this.status = details.status;
    this.request = details.request;
    this.pveMessage = details.pveMessage;
    this.paramErrors = details.paramErrors;
    this.permission = details.permission;
    this.notFound = details.notFound;
  }
}

export function isProxmoxApiError(err: unknown, kind?: ProxmoxErrorKind): err is ProxmoxApiError {
  return err instanceof ProxmoxApiError && (kind === undefined || err.kind === kind);
}

/** What an admin can do about it, per kind; `ctx` fills in names where PVE gave them. */
export function fixFor(
  kind: ProxmoxErrorKind,
  ctx: { tokenId?: string; permission?: MissingPermission; notFound?: NotFoundTarget } = {},
): string {
  const token = ctx.tokenId ? `'${ctx.tokenId}'` : 'the API token';
  switch (kind) {
    case 'unreachable':
      return 'check that pveproxy runs on this node (systemctl status pveproxy) and that api.url in the settings points at it (https://127.0.0.1:8006)';
    case 'tls':
      return "set api.caFile to the cluster CA (/etc/pve/pve-root-ca.pem) and use a host name or IP the node certificate lists in api.url (127.0.0.1, localhost or the node name); if pveproxy uses a custom (e.g. ACME) certificate, point api.caFile at that certificate's issuing CA";
    case 'auth':
      return `check the token id (api.tokenId) and the secret file (api.secretFile) in the settings: token ${token} must exist, be unexpired and the file must hold the secret 'pveum user token add' printed`;
    case 'permission':
      return permissionFix(token, ctx.permission);
    case 'lock-timeout':
      return "the VM's config is locked by a running task (PVE waits 10 s for it): the start task holds that lock while the hook script runs, so a hook must never change its own VM's config; otherwise retry once the task has finished";
    case 'not-found':
      return notFoundFix(ctx.notFound);
    case 'bad-request':
      return 'Proxmox VE rejected a parameter (see the message); check the value named there';
    case 'conflict':
      return 'someone else changed the same configuration at the same time, or an operation (backup, migration, snapshot) holds the VM: run the command again once it has finished';
    case 'server':
      return 'see the task log and journalctl -u pveproxy -u pvedaemon on the node for the cause';
  }
}

function permissionFix(token: string, p: MissingPermission | undefined): string {
  if (p?.rootOnlyKey !== undefined) {
    if (/^usb\d+$/.test(p.rootOnlyKey)) {
      return `an API token may not set ${p.rootOnlyKey}: host=... (PVE reserves raw USB devices to root@pam); use a USB resource mapping (${p.rootOnlyKey}: mapping=<id>) instead`;
    }
    if (p.rootOnlyKey === 'hookscript') {
      return "only root@pam can set 'hookscript': run 'qm set <vmid> --hookscript <storage>:snippets/<file>' as root on the node";
    }
    return `only root@pam can change '${p.rootOnlyKey}': do it as root on the node (qm set)`;
  }
  const own = p?.aclPath === undefined ? undefined : /^\/mapping\/usb\/usb-gadget-(\d+)$/.exec(p.aclPath);
  if (own && p?.privileges.includes('Mapping.Use')) {
    // the token gets Mapping.Use VM by VM, on that VM's own mapping only (cli/privileges.ts)
    return `run 'pve-usb-gadget enable ${own[1]} --image <image>' as root: it grants ${token} Mapping.Use on ${p.aclPath} (that VM's own mapping only)`;
  }
  if (p?.aclPath && p.privileges.length > 0) {
    const privs = p.privileges.join(' or ');
    return `grant ${privs} on ${p.aclPath} to ${token}, e.g. pveum acl modify ${p.aclPath} --tokens ${token} --roles <a role with ${p.privileges[0]}> (a privilege-separated token also needs it on its user)`;
  }
  return `grant ${token} the privileges this action needs (see the README's token section)`;
}

function notFoundFix(t: NotFoundTarget | undefined): string {
  switch (t?.type) {
    case 'vm':
      return 'check the VM id, and that settings.node names the node this VM is on';
    case 'node':
      return 'settings.node must be the name of this cluster node (see pvecm nodes or hostname)';
    case 'mapping':
      return 'the USB resource mapping does not exist (any more); the hook recreates it at the next VM start (Datacenter > Resource Mappings shows the current ones)';
    case 'endpoint':
      return 'this Proxmox VE version lacks the API endpoint; USB resource mappings need Proxmox VE 8.0 or later';
    default:
      return 'check the name in the message';
  }
}
