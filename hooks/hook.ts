#!/usr/bin/env node
// Entry of dist/hook.cjs: the Proxmox hook script (`hookscript: local:snippets/pve-usb-gadget-hook.cjs`).
import { main } from '../src/hook/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`pve-usb-gadget: fatal: ${String(err)}\n`);
    process.exit(1);
  },
);
