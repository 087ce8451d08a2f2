// `pve-usb-gadget setup api [--remove]`: what install.sh's ensure_api_access and the pveum part of
// uninstall_cluster_parts did, against an in-memory pveum: the same calls in the same order, the same
// lines, records of what was created, the secret root-only and printed only when asked for.
import { afterEach, describe, expect, it } from 'vitest';
import { newTokenSecret, roleIds, tokenNames, userIds } from '../../src/cli/pveum-json.js';
import { ensureApiAccess, removeApiAccess } from '../../src/cli/setup-api.js';
import { CLUSTER_STATE, NODES_DIR, SECRET_FILE } from '../../src/cli/setup-records.js';
import { CommandError, SetupError } from '../../src/errors.js';
import { FakePveum, recordingReport, setupDeps } from './setup-fakes.js';
import { tmpRoot, type TmpRoot } from './tmp-root.js';

const TOKEN = 'pve-usb-gadget@pve!hook';
const MAIN = 'Mapping.Modify,VM.Audit,VM.Config.HWType,VM.Config.Options';
let t: TmpRoot | undefined;
afterEach(() => t?.remove());

function cluster(): { t: TmpRoot; pveum: FakePveum } {
  t = tmpRoot('pvug-setup-api-');
  const pveum = new FakePveum();
  pveum.roles.set('PVEAdmin', 'Sys.Audit');
  pveum.users.set('root@pam', new Set());
  return { t, pveum };
}

async function install(r: TmpRoot, pveum: FakePveum, showSecret = false, node = 'pve1') {
  const report = recordingReport();
  pveum.calls.length = 0;
  await ensureApiAccess({ ...setupDeps(r, pveum.exec, report), node }, { showSecret });
  return report.lines;
}

async function uninstall(r: TmpRoot, pveum: FakePveum, purgeCluster = false, node = 'pve1') {
  const report = recordingReport();
  pveum.calls.length = 0;
  await removeApiAccess({ ...setupDeps(r, pveum.exec, report), node }, { purgeCluster });
  return report.lines;
}

describe('setup api', () => {
  it('creates roles, user, token, ACLs and the node marker in install.sh\'s order, and records them', async () => {
    const { t, pveum } = cluster();
    const lines = await install(t, pveum);
    expect(pveum.calls).toEqual([
      'pveum role list --output-format json',
      `pveum role add UsbGadget --privs ${MAIN}`,
      'pveum role add UsbGadgetUse --privs Mapping.Use',
      'pveum user list --output-format json',
      'pveum user add pve-usb-gadget@pve --comment pve-usb-gadget hook and CLI (API token only, no password)',
      'pveum user token list pve-usb-gadget@pve --output-format json',
      'pveum user token add pve-usb-gadget@pve hook --privsep 1 --comment pve-usb-gadget --output-format json',
      'pveum acl modify /vms --users pve-usb-gadget@pve --roles UsbGadget',
      `pveum acl modify /vms --tokens ${TOKEN} --roles UsbGadget`,
      'pveum acl modify /mapping/usb --users pve-usb-gadget@pve --roles UsbGadget',
      `pveum acl modify /mapping/usb --tokens ${TOKEN} --roles UsbGadget`,
    ]);
    expect(lines).toEqual([
      `changed: created role UsbGadget: ${MAIN}`,
      'changed: created role UsbGadgetUse: Mapping.Use',
      'changed: created user pve-usb-gadget@pve (no password: it cannot log in)',
      `changed: created API token ${TOKEN} (privilege-separated); secret stored root-only in /etc/pve/priv/pve-usb-gadget/token.secret`,
    ]);
    expect(t.fs.readText(CLUSTER_STATE)).toBe('role\nuse-role\nuser\ntoken\n');
    expect(t.fs.readText(SECRET_FILE)).toBe(`${pveum.secrets[0]}\n`);
    expect(t.fs.stat(SECRET_FILE).mode & 0o777).toBe(0o600);
    expect(t.fs.readText(`${NODES_DIR}/pve1`)).toBe('');
    expect(pveum.acls).toHaveLength(4);
  });

  it('is idempotent: a second run changes nothing, keeps the token and only sets the role privileges again', async () => {
    const { t, pveum } = cluster();
    await install(t, pveum);
    pveum.roles.set('UsbGadget', `${MAIN},Mapping.Use`); // an earlier release's role
    const lines = await install(t, pveum, true);
    expect(lines).toEqual([`ok: API token ${TOKEN} exists and its secret is in ${SECRET_FILE}`]);
    expect(pveum.calls.filter((c) => / (add|remove) /.test(c))).toEqual([]);
    expect(pveum.roles.get('UsbGadget')).toBe(MAIN);
    expect(pveum.acls).toHaveLength(4);
    expect(t.fs.readText(CLUSTER_STATE)).toBe('role\nuse-role\nuser\ntoken\n');
  });

  it('never prints the secret, unless asked to: then once, as install.sh did', async () => {
    const { t, pveum } = cluster();
    const quiet = await install(t, pveum);
    expect(quiet.join('\n')).not.toContain(pveum.secrets[0]);
    t.put(SECRET_FILE, ''); // lost: the token is replaced
    const shown = await install(t, pveum, true);
    expect(pveum.calls).toContain('pveum user token remove pve-usb-gadget@pve hook');
    expect(shown.filter((l) => l.includes(pveum.secrets[1] ?? '-'))).toEqual([`token secret (shown once, as asked): ${pveum.secrets[1]}`]);
    expect(t.fs.readText(SECRET_FILE)).toBe(`${pveum.secrets[1]}\n`);
  });

  it('fails naming pveum when the token secret is missing, without quoting its output', async () => {
    const { t, pveum } = cluster();
    pveum.tokenAddOutput = '{"value":"not-a-uuid-but-secret"}';
    const err = await install(t, pveum).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect((err as SetupError).toLine()).toMatch(/^pveum user token add did not return a token secret .*fix: run install.sh again/);
    expect((err as SetupError).toLine()).not.toContain('not-a-uuid');
    expect(t.fs.exists(SECRET_FILE)).toBe(false);
    expect(t.fs.readText(CLUSTER_STATE)).not.toContain('token');
  });

  it('stops at a failing pveum call with its message and a fix', async () => {
    const { t, pveum } = cluster();
    pveum.failOn = 'pveum user add';
    const err = await install(t, pveum).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as CommandError).toLine()).toMatch(/^pveum user add pve-usb-gadget@pve .* failed \(exit 255\): failed: .*; fix: run it as root/);
    expect(t.fs.readText(CLUSTER_STATE)).toBe('role\nuse-role\n');
  });
});

describe('setup api --remove', () => {
  it('keeps everything while other nodes use it, and says so', async () => {
    const { t, pveum } = cluster();
    await install(t, pveum, false, 'pve1');
    await install(t, pveum, false, 'pve2');
    const lines = await uninstall(t, pveum);
    expect(lines).toEqual([
      'ok: kept the API user, token, roles and secret: nodes pve2 still use them (--purge-cluster removes them)',
      'cluster-kept: pve2',
    ]);
    expect(pveum.calls).toEqual([]);
    expect(t.fs.list(NODES_DIR)).toEqual(['pve2']);
  });

  it('on the last node (or purging) removes the grants, token, user and roles it recorded, in install.sh\'s order', async () => {
    const { t, pveum } = cluster();
    await install(t, pveum, false, 'pve1');
    await install(t, pveum, false, 'pve2');
    pveum.acls.push('/mapping/usb/usb-gadget-100 token pve-usb-gadget@pve!hook UsbGadgetUse', '/mapping/usb/usb-gadget-100 user pve-usb-gadget@pve UsbGadgetUse');
    const lines = await uninstall(t, pveum, true);
    expect(lines).toEqual([
      'changed: removed Mapping.Use on /mapping/usb/usb-gadget-100',
      `changed: removed API token ${TOKEN}`,
      'changed: removed user pve-usb-gadget@pve',
      'changed: removed role UsbGadget',
      'changed: removed role UsbGadgetUse',
    ]);
    expect(pveum.calls.filter((c) => !c.includes(' list '))).toEqual([
      `pveum acl delete /mapping/usb/usb-gadget-100 --users pve-usb-gadget@pve --tokens ${TOKEN} --roles UsbGadgetUse`,
      `pveum acl delete /vms --tokens ${TOKEN} --roles UsbGadget`,
      `pveum acl delete /mapping/usb --tokens ${TOKEN} --roles UsbGadget`,
      'pveum user token remove pve-usb-gadget@pve hook',
      'pveum acl delete /vms --users pve-usb-gadget@pve --roles UsbGadget',
      'pveum acl delete /mapping/usb --users pve-usb-gadget@pve --roles UsbGadget',
      'pveum user delete pve-usb-gadget@pve',
      'pveum role delete UsbGadget',
      'pveum role delete UsbGadgetUse',
    ]);
    expect(pveum.acls).toEqual([]);
    expect([...pveum.roles.keys()]).toEqual(['PVEAdmin']);
    expect([...pveum.users.keys()]).toEqual(['root@pam']);
    expect(t.fs.readText(CLUSTER_STATE)).toBe('');
  });

  it('removes only what install.sh created, and what is already gone is no error', async () => {
    const { t, pveum } = cluster();
    pveum.roles.set('UsbGadgetUse', 'Mapping.Use'); // the admin's own, before install.sh
    await install(t, pveum);
    pveum.users.delete('pve-usb-gadget@pve'); // the admin removed it
    const lines = await uninstall(t, pveum);
    expect(lines).toEqual(['changed: removed role UsbGadget']);
    expect([...pveum.roles.keys()]).toEqual(['PVEAdmin', 'UsbGadgetUse']);
    expect(t.fs.readText(CLUSTER_STATE)).toBe('');
    expect(await uninstall(t, pveum)).toEqual([]);
  });

  it('warns about per-mapping grants it cannot list, and goes on', async () => {
    const { t, pveum } = cluster();
    await install(t, pveum);
    pveum.failOn = 'pveum acl list';
    const lines = await uninstall(t, pveum);
    expect(lines[0]).toMatch(/^WARNING: could not remove the per-mapping ACLs \(pveum acl list failed .*\): pveum acl list shows them$/);
    expect(lines).toContain('changed: removed user pve-usb-gadget@pve');
  });
});

describe("pveum's JSON", () => {
  it('reads the ids of each list and the new secret', () => {
    expect(roleIds('[{"roleid":"A","privs":"x","special":0},{"roleid":"UsbGadget"}]')).toEqual(['A', 'UsbGadget']);
    expect(userIds('[{"userid":"root@pam","enable":1}]\n')).toEqual(['root@pam']);
    expect(tokenNames('[]')).toEqual([]);
    expect(tokenNames('')).toEqual([]);
    expect(newTokenSecret('{"full-tokenid":"u@pve!t","info":{"privsep":1},"value":"0123abcd-0000-4000-8000-000000000001"}')).toBe('0123abcd-0000-4000-8000-000000000001');
  });
  it('refuses what is not a JSON list, naming the command and never the text', () => {
    expect(() => roleIds('roleid UsbGadget')).toThrow(/^pveum role list printed no JSON$/);
    expect(() => userIds('{"userid":"x"}')).toThrow(/^pveum user list printed no list$/);
    expect(newTokenSecret('value: 0123abcd-0000-4000-8000-000000000001')).toBeUndefined();
    expect(newTokenSecret('{"value":"ABC"}')).toBeUndefined();
  });
});
