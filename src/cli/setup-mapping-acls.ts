/**
 * `pve-usb-gadget setup mapping-acls [--remove]`: install.sh's step for the token's per-mapping
 * Mapping.Use (mapping-acl.ts): every VM mapping of ours gets its grant (how a node installed before
 * the per-mapping grants keeps its enabled VMs working), and `--remove` (uninstall) takes every grant
 * away. Lists mappings through the API with the token (its Mapping.Modify on /mapping/usb lets it see
 * them all) and changes ACLs as root with pveum.
 */
import type { Command } from 'commander';
import { adminDeps } from './admin-deps.js';
import { syncMappingAcls } from './mapping-acl.js';
import type { SetupDeps } from './setup-report.js';

export function registerMappingAcls(setup: Command, deps: () => SetupDeps, settingsPath: () => string | undefined): void {
  setup
    .command('mapping-acls')
    .description("grant the API token Mapping.Use on each VM mapping of ours (usb-gadget-<vmid>) and nothing else; --remove takes every grant away")
    .option('--remove', 'remove every per-mapping grant (install.sh --uninstall)')
    .action(async (o: { remove?: boolean }) => {
      const { report } = deps();
      const admin = adminDeps(settingsPath());
      try {
        const changes = await syncMappingAcls(admin, { remove: o.remove === true });
        for (const c of changes) report.changed(c);
        if (changes.length === 0) report.ok(o.remove ? 'no per-mapping grant to remove' : 'each VM mapping has its grant, and only those');
      } finally {
        await admin.close();
      }
    });
}
