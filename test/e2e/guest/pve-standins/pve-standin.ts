/**
 * Runs INSIDE the test VM as `pve-standin.cjs <tool> args...` (the shell wrappers next to this file are
 * installed as pveversion, pveum, pvesm and qm). Just enough of each for install.sh and the CLI:
 *  - pveversion: a Proxmox VE 8.4 line (PVUG_PVE_VERSION overrides it, to test the refusal of PVE 7);
 *  - pvesm set <id> --content <list> / pvesm path <id>:snippets/<file>: on /etc/pve/storage.cfg;
 *  - pveum, qm: sent to the scenario process (install-control.ts), which holds the fake API.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { release } from 'node:os';

const STORAGE_CFG = '/etc/pve/storage.cfg';
const CONTROL_SOCKET = '/run/pve-standins.sock';

interface Reply {
  code: number;
  stdout: string;
  stderr: string;
}

/** storage.cfg sections: "type: id" then tab-indented "key value" lines */
function storages(text: string): { type: string; id: string; props: Map<string, string>; line: number }[] {
  const out: { type: string; id: string; props: Map<string, string>; line: number }[] = [];
  text.split('\n').forEach((l, i) => {
    const head = /^([a-z]+): (\S+)\s*$/.exec(l);
    if (head) out.push({ type: head[1] as string, id: head[2] as string, props: new Map(), line: i });
    const prop = /^\s+(\S+)\s+(.*)$/.exec(l);
    if (prop && out.length > 0) out[out.length - 1]?.props.set(prop[1] as string, prop[2] as string);
  });
  return out;
}

function pvesm(args: string[]): Reply {
  const text = readFileSync(STORAGE_CFG, 'utf8');
  const [cmd, target] = args;
  if (cmd === 'path' && target) {
    const m = /^([^:]+):snippets\/([^/]+)$/.exec(target);
    const s = storages(text).find((x) => x.id === m?.[1]);
    if (!m || !s || s.type !== 'dir') return { code: 255, stdout: '', stderr: `unable to parse volume ID '${target}'\n` };
    return { code: 0, stdout: `${s.props.get('path')}/snippets/${m[2]}\n`, stderr: '' };
  }
  if (cmd === 'set' && target && args[2] === '--content' && args[3] !== undefined) {
    const s = storages(text).find((x) => x.id === target);
    if (!s) return { code: 255, stdout: '', stderr: `storage '${target}' does not exist\n` };
    const lines = text.split('\n');
    const at = lines.findIndex((l, i) => i > s.line && /^\s+content\s/.test(l) && !lines.slice(s.line + 1, i).some((x) => /^[a-z]+: /.test(x)));
    const content = `\tcontent ${args[3]}`;
    if (at >= 0) lines[at] = content;
    else lines.splice(s.line + 1, 0, content);
    writeFileSync(STORAGE_CFG, lines.join('\n'));
    return { code: 0, stdout: '', stderr: '' };
  }
  return { code: 255, stdout: '', stderr: `pvesm stand-in: unsupported command: pvesm ${args.join(' ')}\n` };
}

function control(tool: string, args: string[]): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: CONTROL_SOCKET, method: 'POST', path: '/' }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(JSON.parse(body) as Reply));
    });
    req.on('error', reject);
    req.end(JSON.stringify({ tool, args }));
  });
}

async function main(): Promise<number> {
  const [tool, ...args] = process.argv.slice(2);
  let r: Reply;
  if (tool === 'pveversion') {
    r = { code: 0, stdout: `${process.env.PVUG_PVE_VERSION ?? 'pve-manager/8.4.1/2a5fa54a8503f96d'} (running kernel: ${release()})\n`, stderr: '' };
  } else if (tool === 'pvesm') {
    r = pvesm(args);
  } else if (tool === 'pveum' || tool === 'qm') {
    r = await control(tool, args);
  } else {
    r = { code: 255, stdout: '', stderr: `unknown stand-in ${tool}\n` };
  }
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.code;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`stand-in failed: ${String(e)}\n`);
    process.exit(255);
  },
);
