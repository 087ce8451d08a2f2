#!/usr/bin/env node
// pve-usb-gadget: the admin CLI (dist/cli.cjs). The commands are in program.ts, importable by tests.
import { CommanderError } from 'commander';
import { GadgetError } from '../errors.js';
import { program } from './program.js';

export async function runCli(argv: readonly string[]): Promise<number> {
  try {
    await program().parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      if (err.code === 'usage') process.stderr.write(`pve-usb-gadget: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`pve-usb-gadget: ${err instanceof GadgetError ? err.toLine() : String(err)}\n`);
    return 1;
  }
}

runCli(process.argv.slice(2)).then((code) => process.exit(code));
