import { GadgetError } from '../errors.js';
import { parseVmid as vmidRule } from '../values/proxmox-ids.js';
import { detachedLogger } from '../host/syslog.js';
import { loadSettings } from '../settings/load.js';
import type { HookDeps, PreStartStep } from './deps.js';
import { hostDeps, withApi } from './host-deps.js';
import { createLogger, flushToSyslog, type Logger } from './log.js';
import { ATTACH_PHASE, attachMapping, createClient, hookAttachHelper } from './passthrough.js';
import { postStop } from './post-stop.js';
import { preStart } from './pre-start.js';
import { stepTimer, type StepTimer } from './timing.js';

const PHASES = ['pre-start', 'post-start', 'pre-stop', 'post-stop'] as const;

function parseVmid(arg: string | undefined): number | undefined {
  const parsed = arg === undefined ? undefined : vmidRule(arg);
  return parsed?.ok ? parsed.value : undefined;
}

/** Test-only: PVE_USB_GADGET_FAULT=<step> kills the hook with SIGKILL right after that step. */
function checkpointFromEnv(env: NodeJS.ProcessEnv, timer: StepTimer): (step: PreStartStep) => void {
  const fault = env.PVE_USB_GADGET_FAULT;
  return (step) => {
    timer.mark(step);
    if (step === fault) process.kill(process.pid, 'SIGKILL');
  };
}

export async function buildDeps(log: Logger, env: NodeJS.ProcessEnv = process.env, timer: StepTimer = stepTimer({})): Promise<HookDeps> {
  const settings = loadSettings({ env });
  const deps = hostDeps(settings, log, checkpointFromEnv(env, timer));
  deps.mark = (name) => timer.mark(name);
  deps.fs.mkdir(settings.paths.stateDir, { recursive: true, mode: 0o700 });
  return deps;
}

/** `hook.cjs <vmid> <phase>`: returns the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const timer = stepTimer(env);
  timer.mark('main');
  const [vmidArg, phase] = argv;
  const vmid = parseVmid(vmidArg);
  const log = createLogger(`pve-usb-gadget[${vmidArg ?? '?'}]`);
  if (vmid === undefined || phase === undefined) {
    log.error(`usage: hook <vmid> <phase> (got: ${argv.join(' ') || 'nothing'}); phases: ${PHASES.join(', ')}`);
    return 2;
  }
  let code = 0;
  let deps: HookDeps | undefined;
  try {
    deps = await buildDeps(log, env, timer);
    timer.mark('deps');
    switch (phase) {
      case 'pre-start': {
        // the API is needed only here and in the attach helper: post-stop must work without it
        await preStart(withApi(deps, hookAttachHelper(process.argv[1] ?? 'hook.cjs'), { vmConfig: 'file' }), vmid);
        break;
      }
      case 'post-stop':
        await postStop(deps, vmid);
        break;
      case 'post-start':
      case 'pre-stop':
        log.info(`${phase}: nothing to do`);
        break;
      case ATTACH_PHASE: {
        const client = createClient(deps);
        if (client) await attachMapping(deps, vmid, client);
        break;
      }
      default:
        log.error(`unknown phase '${phase}'; expected one of: ${PHASES.join(', ')}`);
        code = 2;
    }
  } catch (err) {
    log.error(err instanceof GadgetError ? err.toLine() : `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    code = 1;
  }
  timer.mark('done');
  await flushToSyslog(detachedLogger(), log);
  timer.mark('end');
  const timing = timer.line();
  if (timing) process.stderr.write(`${timing}\n`);
  return code;
}
