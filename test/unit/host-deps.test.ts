// Where the VM config comes from: the hook's pre-start reads the node's config file (qemu-server applied
// pending changes to it just before), the CLI asks the API. Both with an [api] section configured.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakePve, type FakePve } from '../fake-pve/index.js';
import { hostDeps, withApi } from '../../src/hook/host-deps.js';
import { createLogger } from '../../src/hook/log.js';
import { parseSettings } from '../../src/settings/parse.js';

const SECRET = '3c9e7a1b-5d2f-4e8a-9b6c-1f0e2d3c4b5a';
const TOKEN = 'pve-usb-gadget@pve!hook';
let pve: FakePve;
let dir: string;

beforeAll(async () => {
  pve = await startFakePve({ authFailureDelayMs: 0 });
  pve.addToken(TOKEN, SECRET, { '/vms': ['VM.Audit'] });
  pve.addVm({ vmid: 100, config: { description: '[usb-gadget]\nimage = /from/the/api.img' } });
  dir = mkdtempSync(join(tmpdir(), 'pvug-hostdeps-'));
  mkdirSync(join(dir, 'qemu-server'));
  mkdirSync(join(dir, 'run'));
  writeFileSync(join(dir, 'qemu-server', '100.conf'), '#[usb-gadget]\n#image = /from/the/file.img\nmemory: 64\n');
  writeFileSync(join(dir, 'token.secret'), `${SECRET}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.pem'), pve.caPem);
});

afterAll(async () => {
  await pve.close();
  rmSync(dir, { recursive: true, force: true });
});

const deps = () =>
  hostDeps(
    parseSettings(
      `[api]\nurl = ${pve.url}\ntoken_id = ${TOKEN}\nsecret_file = ${dir}/token.secret\nca_file = ${dir}/ca.pem\n[paths]\nroot = /\nstate_dir = ${dir}/run\npve_config_dir = ${dir}/qemu-server\n`,
      'test',
      'pve',
    ),
    createLogger('t', { out: () => undefined, err: () => undefined }),
  );

describe('withApi', () => {
  it("the hook's pre-start reads the config file, with no API request before the build", async () => {
    const d = withApi(deps(), undefined, { vmConfig: 'file' });
    pve.clearRequests();
    const vm = await d.vms.read(100);
    expect(vm.description).toBe('[usb-gadget]\nimage = /from/the/file.img');
    expect(vm.source).toBe('local');
    expect(pve.requests).toEqual([]);
  });

  it('the CLI reads through the API', async () => {
    const d = withApi(deps(), undefined, { vmConfig: 'api' });
    const vm = await d.vms.read(100);
    expect(vm.description).toBe('[usb-gadget]\nimage = /from/the/api.img');
    expect(vm.source).toBe('api');
  });
});
