import { readFileSync } from 'node:fs';
import { GadgetError, errnoOf } from '../errors.js';
import type { Settings } from '../settings/types.js';
import { describeSpec } from '../spec/describe.js';
import { guidWarnings } from '../spec/guid-advice.js';
import { validateNotes, type ValidationResult } from '../spec/validate.js';
import type { VmInfo } from '../hook/vm-source.js';

export interface ValidateOutput {
  code: 0 | 1;
  lines: string[];
}

/** `validate`: exit 0 with the resolved gadget, or 1 with one line per problem. */
export function validateVm(vm: Pick<VmInfo, 'description' | 'smbiosUuid'>, vmid: number, settings: Settings): ValidateOutput {
  const result: ValidationResult = validateNotes(vm.description, { vmid, smbiosUuid: vm.smbiosUuid, defaultSpeed: settings.defaultSpeed });
  switch (result.kind) {
    case 'none':
      return { code: 1, lines: ['no [usb-gadget] section in the notes'] };
    case 'invalid':
      return { code: 1, lines: result.problems.map((p) => `${p.key}: ${p.message}`) };
    case 'ok':
      return { code: 0, lines: [...describeSpec(result.spec), ...[...result.warnings, ...guidWarnings(result.spec, vmid)].map((w) => `warning: ${w}`)] };
  }
}

export function readNotesFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new GadgetError(`cannot read the notes file`, { path, errno: errnoOf(err), fix: 'give a readable file with --notes-file' });
  }
}
