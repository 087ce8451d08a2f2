/**
 * Run a shell script as root on a real Linux kernel: a throw-away QEMU VM (TCG, never KVM) that boots
 * Debian bookworm's kernel with the cached busybox initramfs and the Debian "hypervisor root" that
 * test/e2e/provision.sh prepared. Runs on the host's Node inside vitest or from a node script.
 *
 * Inside the VM (see test/e2e/vm/init): / is the read-only root plus a tmpfs overlay, /project is this
 * checkout (read-only), /results is a host folder (read-write), configfs is mounted, loopback is up,
 * syslog listens on /dev/log. No network device, no udev (modules load only when asked: `modprobe
 * usb_storage` first to get the driver binding a Proxmox host's udev would cause). Nested guests must use
 * `-accel tcg` too (the VM has no /dev/kvm). When the script exits, the processes it left running are
 * stopped and the VM powers off. Files: <resultsDir>/.vm-job/{script.sh,env.sh,output.log,dmesg.log,
 * syslog.log,exit-code}.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { flavourOf } from './flavour.js';

export interface CachePaths {
  cacheDir: string;
  /** kernel image (bzImage) */
  kernel: string;
  /** kernel release, e.g. 6.1.0-56-amd64 */
  kernelVersion: string;
  /** the folder holding `<kernelVersion>/` (extracted modules, depmod done) */
  modulesDir: string;
  initramfs: string;
  /** the Debian bookworm root filesystem the VM runs on */
  rootfs: string;
}

export interface VmShare {
  /** folder on the host */
  hostPath: string;
  /** 9p mount tag: lower-case letters, digits, '_' (not root, modules, project or results) */
  tag: string;
  /** absolute mount point in the VM */
  mountPoint: string;
  readOnly?: boolean;
}

export interface RunInVmOptions {
  /** bash script run as root inside the VM; its exit code is the run's exitCode */
  script: string;
  /** hard limit for the whole VM run (default 300 s): QEMU is killed and runInVm throws */
  timeoutMs?: number;
  /** guest memory (default 2048 MiB) */
  memMb?: number;
  /** guest CPUs (default 2) */
  cpus?: number;
  extraShares?: VmShare[];
  /** environment for the script (on top of HOME, PATH, LANG=C.UTF-8, TERM=dumb) */
  env?: Record<string, string>;
  /** an existing host folder to share as /results (e.g. prepared with input files); default: a new temp dir */
  resultsDir?: string;
  /** extra kernel command line words */
  kernelArgs?: string[];
  /** every chunk of console output as it arrives (PVUG_VM_CONSOLE=1 also streams it to stderr) */
  onConsole?: (chunk: string) => void;
}

export interface VmRun {
  exitCode: number;
  /** everything the VM wrote to its serial console: kernel errors, init messages, script output */
  console: string;
  /** the script's own stdout + stderr */
  output: string;
  /** what reached syslog (/dev/log, e.g. through `logger`) during the run */
  syslog: string;
  /** the host folder that was /results in the VM (the caller removes it) */
  resultsDir: string;
  durationMs: number;
}

/** Thrown when the VM times out or ends without the script's exit code. */
export class VmRunError extends Error {
  constructor(
    message: string,
    readonly consoleTail: string,
    readonly resultsDir: string,
  ) {
    super(`${message}\n--- last VM console lines ---\n${consoleTail}`);
    this.name = 'VmRunError';
  }
}

const DEFAULT_TIMEOUT_MS = 300_000;
const CONSOLE_TAIL_LINES = 60;
const RESERVED_TAGS = new Set(['root', 'modules', 'project', 'results']);
const PROVISION_FIX = 'run `bash test/e2e/provision.sh` as root first (npm test does)';

const harnessDir = dirname(fileURLToPath(import.meta.url));

/** The repository checkout this file belongs to: it is shared read-only as /project. */
export function projectRoot(): string {
  return resolve(harnessDir, '..', '..', '..');
}

/** Folder of the test/e2e/vm sources the initramfs is built from. */
function vmSourcesDir(): string {
  return resolve(harnessDir, '..', 'vm');
}

/**
 * Where provision.sh keeps its cache: `$PVUG_CACHE`, else `~/.cache/pve-usb-gadget`; the trixie
 * flavour's parts (PVUG_FLAVOUR=trixie) in its `trixie/` folder.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.PVUG_CACHE || join(env.HOME || homedir(), '.cache', 'pve-usb-gadget');
  return flavourOf(env) === 'trixie' ? join(base, 'trixie') : base;
}

/** Paths of the provisioned kernel, initramfs and root; throws if provision.sh has not run. */
export function cachePaths(env: NodeJS.ProcessEnv = process.env): CachePaths {
  const dir = cacheDir(env);
  const versionFile = join(dir, 'kernel', 'version');
  if (!existsSync(versionFile)) {
    throw new Error(`no provisioned kernel in ${dir}: ${PROVISION_FIX}`);
  }
  const kernelVersion = readFileSync(versionFile, 'utf8').trim();
  const paths: CachePaths = {
    cacheDir: dir,
    kernel: join(dir, 'kernel', 'boot', `vmlinuz-${kernelVersion}`),
    kernelVersion,
    modulesDir: join(dir, 'kernel', 'lib', 'modules'),
    initramfs: join(dir, 'initramfs.cpio.gz'),
    rootfs: join(dir, 'rootfs'),
  };
  for (const path of [paths.kernel, paths.initramfs, join(paths.rootfs, 'usr', 'bin', 'node')]) {
    if (!existsSync(path)) throw new Error(`missing ${path}: ${PROVISION_FIX}`);
  }
  return paths;
}

/** The initramfs embeds test/e2e/vm/{init,stage2}: refuse to boot a stale one. */
function assertInitramfsCurrent(paths: CachePaths): void {
  const recorded = readFileSync(join(paths.cacheDir, 'initramfs.sources'), 'utf8');
  for (const name of ['init', 'stage2']) {
    const digest = createHash('sha256').update(readFileSync(join(vmSourcesDir(), name))).digest('hex');
    if (!recorded.includes(`${digest}  ${name}`)) {
      throw new Error(`the cached initramfs is older than test/e2e/vm/${name}: ${PROVISION_FIX}`);
    }
  }
}

/** QEMU -virtfs argument; QEMU option values escape ',' as ',,'. */
function virtfs(hostPath: string, tag: string, readOnly: boolean): string {
  const path = hostPath.replaceAll(',', ',,');
  return `local,path=${path},mount_tag=${tag},security_model=none,multidevs=remap${readOnly ? ',readonly=on' : ''}`;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function checkShare(share: VmShare): void {
  if (!/^[a-z0-9_]{1,31}$/.test(share.tag) || RESERVED_TAGS.has(share.tag)) {
    throw new Error(`invalid or reserved 9p tag ${JSON.stringify(share.tag)}`);
  }
  if (!/^\/[A-Za-z0-9._/-]*$/.test(share.mountPoint) || share.mountPoint.split('/').includes('..')) {
    throw new Error(`invalid mount point ${JSON.stringify(share.mountPoint)}`);
  }
}

function envFile(env: Record<string, string>): string {
  const lines = Object.entries(env).map(([key, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`invalid environment variable name ${JSON.stringify(key)}`);
    return `export ${key}=${shellQuote(value)}`;
  });
  return `${lines.join('\n')}\n`;
}

/** The last `count` lines, without CRs and the terminal escapes SeaBIOS and the kernel print. */
function lastLines(text: string, count: number): string {
  const plain = text.replace(/\x1b(?:\[[0-9;?]*[A-Za-z]|c)/g, '').replaceAll('\r', '');
  return plain.split('\n').slice(-count).join('\n');
}

/** Boot a VM, run `opts.script` in it as root, and return its exit code and output. */
export async function runInVm(opts: RunInVmOptions): Promise<VmRun> {
  const paths = cachePaths();
  assertInitramfsCurrent(paths);
  const shares = opts.extraShares ?? [];
  shares.forEach(checkShare);
  const resultsDir = opts.resultsDir ?? (await mkdtemp(join(tmpdir(), 'pvug-vm-')));
  const jobDir = join(resultsDir, '.vm-job');
  // a reused results folder must not hand back the previous run's exit code
  await rm(jobDir, { recursive: true, force: true });
  await mkdir(jobDir, { recursive: true });
  await writeFile(join(jobDir, 'script.sh'), opts.script);
  await writeFile(join(jobDir, 'env.sh'), envFile(opts.env ?? {}));
  await writeFile(
    join(jobDir, 'shares'),
    shares.map((s) => `${s.tag} ${s.mountPoint} ${s.readOnly ? 'ro' : 'rw'}\n`).join(''),
  );

  const args = [
    '-accel', 'tcg',
    // max: among others RDRAND, so the kernel's random pool is ready at once instead of after ~10 s of
    // jitter entropy (node blocks on getrandom() until then)
    '-cpu', 'max',
    '-m', String(opts.memMb ?? 2048),
    '-smp', String(opts.cpus ?? 2),
    '-nographic',
    '-no-reboot',
    '-nic', 'none',
    '-kernel', paths.kernel,
    '-initrd', paths.initramfs,
    // panic=-1: reboot at once on a panic, which -no-reboot turns into QEMU exiting
    '-append', ['console=ttyS0', 'panic=-1', 'quiet', ...(opts.kernelArgs ?? [])].join(' '),
    '-virtfs', virtfs(paths.rootfs, 'root', true),
    '-virtfs', virtfs(paths.modulesDir, 'modules', true),
    '-virtfs', virtfs(projectRoot(), 'project', true),
    '-virtfs', virtfs(resultsDir, 'results', false),
    ...shares.flatMap((s) => ['-virtfs', virtfs(s.hostPath, s.tag, s.readOnly ?? false)]),
  ];

  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = Date.now();
  let boot = await bootOnce(args, opts, timeoutMs);
  // QEMU's TCG occasionally runs a stale translation of kernel text the kernel is patching at boot
  // (static keys, "Oops: int3" in an early initcall): the kernel dies before the job's script exists.
  // Nothing of the test ran, so one more boot is the same test, not a retried one.
  if (!boot.timedOut && earlyKernelCrash(boot.consoleText) && !existsSync(join(jobDir, 'output.log'))) {
    process.stderr.write(`runInVm: the test VM's kernel crashed while booting, before the script started (TCG); booting it once more\n`);
    boot = await bootOnce(args, opts, timeoutMs);
  }
  const { qemuExit, timedOut, consoleText } = boot;
  const durationMs = Date.now() - started;
  const tail = (): string => lastLines(consoleText, CONSOLE_TAIL_LINES);

  if (timedOut) {
    throw new VmRunError(`VM run timed out after ${timeoutMs} ms (QEMU killed)`, tail(), resultsDir);
  }
  let exitText: string;
  try {
    exitText = await readFile(join(jobDir, 'exit-code'), 'utf8');
  } catch {
    throw new VmRunError(
      `VM ended (QEMU exit ${qemuExit.code ?? qemuExit.signal}) without the script's exit code`,
      tail(),
      resultsDir,
    );
  }
  const exitCode = Number.parseInt(exitText.trim(), 10);
  if (!Number.isInteger(exitCode)) {
    throw new VmRunError(`unreadable exit code ${JSON.stringify(exitText)}`, tail(), resultsDir);
  }
  const output = await readFile(join(jobDir, 'output.log'), 'utf8').catch(() => '');
  const syslog = await readFile(join(jobDir, 'syslog.log'), 'utf8').catch(() => '');
  return { exitCode, console: consoleText, output, syslog, resultsDir, durationMs };
}

/** Whether the console shows the kernel dying (oops or panic). */
export function earlyKernelCrash(consoleText: string): boolean {
  return /\b(Oops: |Kernel panic - not syncing|BUG: )/.test(consoleText);
}

/** One QEMU run: its exit, whether it was killed at the timeout, and everything it printed. */
async function bootOnce(args: string[], opts: RunInVmOptions, timeoutMs: number) {
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let consoleText = '';
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    consoleText += text;
    opts.onConsole?.(text);
    if (process.env.PVUG_VM_CONSOLE === '1') process.stderr.write(text);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const qemuExit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done, fail) => {
    child.on('error', fail);
    child.on('close', (code, signal) => done({ code, signal }));
  }).finally(() => clearTimeout(timer));
  return { qemuExit, timedOut, consoleText };
}
