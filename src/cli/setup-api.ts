/**
 * `pve-usb-gadget setup api [--show-token-secret]`: install.sh's API access, once per cluster (pveum acts
 * cluster-wide): the two roles with exactly the privileges of privileges.ts, the user API_USER (no
 * password), its privilege-separated token with the secret root-only in SECRET_FILE, the main role's
 * ACLs for both, and this node's marker in NODES_DIR. Whatever it creates is recorded (setup-records.ts).
 * `--remove [--purge-cluster]` (install.sh --uninstall): drops this node's marker and, on the last node
 * (or when purging), removes exactly what the records say install.sh created.
 * pveum's JSON is read by pveum-json.ts; the secret appears in no output but the one line asked for.
 */
import type { Command } from 'commander';
import { CommandError, GadgetError, SetupError } from '../errors.js';
import { run } from '../host/exec.js';
import { pveumAclTool, syncMappingAcls } from './mapping-acl.js';
import { aclPaths, rolePrivileges, ROLES } from './privileges.js';
import { newTokenSecret, roleIds, tokenNames, userIds } from './pveum-json.js';
import { addClusterRecord, API_USER, CLUSTER_DIR, clusterRecords, NODES_DIR, removeClusterRecord, SECRET_FILE, TOKEN_ID, TOKEN_NAME } from './setup-records.js';
import type { SetupDeps } from './setup-report.js';

const FIX = 'run it as root on a Proxmox VE node whose cluster file system is writable (pvecm status: quorate)';
const USER_COMMENT = 'pve-usb-gadget hook and CLI (API token only, no password)';
/** each role with the cluster record install.sh has always written for it */
const ROLE_RECORDS = [
  ['main', 'role'],
  ['use', 'use-role'],
] as const;

const pveum = (deps: SetupDeps, args: string[]) => run(deps.exec, 'pveum', args, FIX);
const list = async (deps: SetupDeps, args: string[]) => (await pveum(deps, [...args, '--output-format', 'json'])).stdout;

/** install.sh's `[[ -s $SECRET ]]`: there and not empty (the token is useless without it) */
function secretStored(deps: SetupDeps): boolean {
  return deps.fs.exists(SECRET_FILE) && deps.fs.stat(SECRET_FILE).size > 0;
}

async function ensureRoles(deps: SetupDeps): Promise<void> {
  const have = roleIds(await list(deps, ['role', 'list']));
  for (const [which, record] of ROLE_RECORDS) {
    const id = ROLES[which];
    const privs = rolePrivileges(which).join(',');
    if (have.includes(id)) {
      // replaces the list: exactly these privileges (how an earlier release's role loses Mapping.Use)
      await pveum(deps, ['role', 'modify', id, '--privs', privs]);
      continue;
    }
    await pveum(deps, ['role', 'add', id, '--privs', privs]);
    addClusterRecord(deps.fs, record);
    deps.report.changed(`created role ${id}: ${privs}`);
  }
}

async function ensureToken(deps: SetupDeps, showSecret: boolean): Promise<void> {
  const have = tokenNames(await list(deps, ['user', 'token', 'list', API_USER])).includes(TOKEN_NAME);
  if (have && secretStored(deps)) return deps.report.ok(`API token ${TOKEN_ID} exists and its secret is in ${SECRET_FILE}`);
  // a token whose secret is lost is useless: replace it
  if (have) await pveum(deps, ['user', 'token', 'remove', API_USER, TOKEN_NAME]);
  const args = ['user', 'token', 'add', API_USER, TOKEN_NAME, '--privsep', '1', '--comment', 'pve-usb-gadget', '--output-format', 'json'];
  const r = await deps.exec('pveum', args);
  // not run(): its message may quote stdout, which holds the secret
  if (r.exitCode !== 0) {
    const said = r.stderr.trim().split('\n').slice(-2).join(' / ');
    throw new CommandError(`pveum user token add ${API_USER} ${TOKEN_NAME} failed (exit ${r.exitCode})${said ? `: ${said}` : ''}`, { fix: FIX });
  }
  const secret = newTokenSecret(r.stdout);
  if (secret === undefined) {
    throw new SetupError('pveum user token add did not return a token secret', {
      key: TOKEN_ID,
      fix: `run install.sh again (it replaces a token whose secret is not in ${SECRET_FILE})`,
    });
  }
  deps.fs.mkdir(CLUSTER_DIR, { recursive: true });
  deps.fs.writeAtomic(SECRET_FILE, `${secret}\n`, 0o600);
  addClusterRecord(deps.fs, 'token');
  deps.report.changed(`created API token ${TOKEN_ID} (privilege-separated); secret stored root-only in ${SECRET_FILE}`);
  if (showSecret) deps.report.plain(`token secret (shown once, as asked): ${secret}`);
}

/** install.sh's ensure_api_access, step by step in its order. */
export async function ensureApiAccess(deps: SetupDeps, o: { showSecret: boolean }): Promise<void> {
  await ensureRoles(deps);
  if (!userIds(await list(deps, ['user', 'list'])).includes(API_USER)) {
    await pveum(deps, ['user', 'add', API_USER, '--comment', USER_COMMENT]);
    addClusterRecord(deps.fs, 'user');
    deps.report.changed(`created user ${API_USER} (no password: it cannot log in)`);
  }
  await ensureToken(deps, o.showSecret);
  // a privilege-separated token has its own ACLs ∩ its user's: both get the main role
  for (const path of aclPaths()) {
    await pveum(deps, ['acl', 'modify', path, '--users', API_USER, '--roles', ROLES.main]);
    await pveum(deps, ['acl', 'modify', path, '--tokens', TOKEN_ID, '--roles', ROLES.main]);
  }
  deps.fs.mkdir(NODES_DIR, { recursive: true });
  deps.fs.write(`${NODES_DIR}/${deps.node}`, '');
}

/** An ACL line whose role or user is already gone is no error: removing those took it away too. */
async function deleteAcls(deps: SetupDeps, who: '--users' | '--tokens', id: string): Promise<void> {
  for (const path of aclPaths()) await deps.exec('pveum', ['acl', 'delete', path, who, id, '--roles', ROLES.main]);
}

/** The per-mapping grants (mapping-acl.ts): deleting the token or the role would leave their ACL lines. */
async function removeMappingGrants(deps: SetupDeps): Promise<void> {
  // with `remove` syncMappingAcls lists no mappings: no API client, no settings needed
  const noMappings = { listUsbMappings: async () => [] };
  try {
    for (const c of await syncMappingAcls({ api: noMappings, acl: pveumAclTool(deps.exec, TOKEN_ID) }, { remove: true })) deps.report.changed(c);
  } catch (e) {
    const why = e instanceof GadgetError ? e.toLine() : String(e);
    deps.report.warn(`could not remove the per-mapping ACLs (${why}): pveum acl list shows them`);
  }
}

/** install.sh's uninstall_cluster_parts, its pveum part; prints `cluster-kept: <nodes>` when it keeps them. */
export async function removeApiAccess(deps: SetupDeps, o: { purgeCluster: boolean }): Promise<void> {
  const { fs, report } = deps;
  if (!fs.exists(CLUSTER_DIR)) return report.ok(`no ${CLUSTER_DIR}: install.sh made no API user, token or role`);
  const marker = `${NODES_DIR}/${deps.node}`;
  if (fs.exists(marker)) fs.unlink(marker);
  const others = fs.list(NODES_DIR).join(' ');
  if (others !== '' && !o.purgeCluster) {
    report.ok(`kept the API user, token, roles and secret: nodes ${others} still use them (--purge-cluster removes them)`);
    return report.value('cluster-kept', others);
  }
  const records = clusterRecords(fs);
  const users = userIds(await list(deps, ['user', 'list']));
  if (records.includes('token')) {
    await removeMappingGrants(deps);
    await deleteAcls(deps, '--tokens', TOKEN_ID);
    // `pveum user token list` fails for a user that is gone, and the user's tokens went with it
    if (users.includes(API_USER) && tokenNames(await list(deps, ['user', 'token', 'list', API_USER])).includes(TOKEN_NAME)) {
      await pveum(deps, ['user', 'token', 'remove', API_USER, TOKEN_NAME]);
      report.changed(`removed API token ${TOKEN_ID}`);
    }
    removeClusterRecord(fs, 'token');
  }
  if (records.includes('user')) {
    await deleteAcls(deps, '--users', API_USER);
    if (users.includes(API_USER)) {
      await pveum(deps, ['user', 'delete', API_USER]);
      report.changed(`removed user ${API_USER}`);
    }
    removeClusterRecord(fs, 'user');
  }
  const roles = roleIds(await list(deps, ['role', 'list']));
  for (const [which, record] of ROLE_RECORDS) {
    if (!records.includes(record)) continue;
    if (roles.includes(ROLES[which])) {
      await pveum(deps, ['role', 'delete', ROLES[which]]);
      report.changed(`removed role ${ROLES[which]}`);
    }
    removeClusterRecord(fs, record);
  }
}

interface Options {
  showTokenSecret?: boolean;
  remove?: boolean;
  purgeCluster?: boolean;
}

export function registerSetupApi(setup: Command, deps: () => SetupDeps): void {
  setup
    .command('api')
    .description(`create or update the roles, the user ${API_USER}, its privilege-separated token and their ACLs (once per cluster); --remove undoes it`)
    .option('--show-token-secret', `print a newly created token secret once (it is stored in ${SECRET_FILE} anyway)`)
    .option('--remove', 'remove what install.sh created, once no other node uses it (install.sh --uninstall); prints `cluster-kept: <nodes>` otherwise')
    .option('--purge-cluster', 'with --remove: remove them even while other nodes still use them')
    .action(async (o: Options) => {
      if (o.purgeCluster && !o.remove) throw new SetupError('--purge-cluster goes with --remove', { fix: 'pve-usb-gadget setup api --remove --purge-cluster' });
      if (o.remove) return removeApiAccess(deps(), { purgeCluster: o.purgeCluster === true });
      await ensureApiAccess(deps(), { showSecret: o.showTokenSecret === true });
    });
}
