import type { Command } from 'commander';
import { execaExec } from '../host/exec.js';
import {
  imageCreateCommand,
  imageDownloadCommand,
  imageInspectCommand,
  imageReleasesCommand,
  type ImageCommandDeps,
} from '../image/commands.js';
import { createProgress } from '../image/progress.js';

/**
 * unRAID's public release list (the shape unraid/api reads). Overridable per call with --releases-url
 * or for a host with PVE_USB_GADGET_UNRAID_RELEASES, so tests point it at a local server.
 */
export const DEFAULT_UNRAID_RELEASES = 'https://releases.unraid.net/os';

const releasesUrl = (o: { releasesUrl?: string }) => o.releasesUrl ?? process.env.PVE_USB_GADGET_UNRAID_RELEASES ?? DEFAULT_UNRAID_RELEASES;

function deps(): ImageCommandDeps {
  return {
    exec: execaExec,
    fetch: globalThis.fetch as ImageCommandDeps['fetch'],
    progress: createProgress(process.stderr),
    print: (l) => process.stdout.write(`${l}\n`),
  };
}

/** `pve-usb-gadget image ...`: bootable FAT32 stick images without root or loop devices. */
export function registerImageCommands(program: Command): void {
  const image = program.command('image').description('create and inspect bootable USB stick images (no root, no loop devices)');

  image
    .command('create')
    .description('sparse image: MBR, one active FAT32 partition at 1 MiB, files copied; --unraid makes it an unRAID boot stick')
    .argument('<file>', 'image file to create')
    .option('--size <size>', 'full size, e.g. 2G (default 1G, 4G with --unraid; at least 34M)')
    .option('--label <name>', 'FAT volume label (UNRAID with --unraid)')
    .option('--from-dir <dir>', 'copy this directory onto the stick')
    .option('--from-zip <zip>', 'unzip this onto the stick (an unRAID release zip with --unraid)')
    .option('--unraid', 'apply the unRAID steps: label, EFI- → EFI, syslinux boot record, mbr.bin')
    .option('--unraid-licence', 'a licence-only stick for unRAID 7.3+ internal boot: FAT32 labelled UNRAID (default size 64M), no release')
    .option('--key-file <file>', 'with --unraid-licence: your unRAID key file (e.g. Pro.key), copied to config/')
    .option('--unraid-version <version>', 'download this unRAID release (checksum verified) and build from it')
    .option('--branch <name>', 'release branch for --unraid-version (stable, next, ...)')
    .option('--releases-url <url>', `unRAID release list (default ${DEFAULT_UNRAID_RELEASES})`)
    .option('--no-uefi', 'keep EFI- as it is (UEFI boot off)')
    .option('--static-ip <addr/prefix>', 'unRAID network: static address instead of DHCP')
    .option('--gateway <addr>', 'unRAID network: gateway')
    .option('--dns <list>', 'unRAID network: DNS servers, comma-separated')
    .option('--force', 'overwrite an existing file')
    .action(async (file: string, o: Record<string, string | boolean | undefined>) => {
      await imageCreateCommand({ ...(o as object), file, branchesUrl: releasesUrl(o as { releasesUrl?: string }) }, deps());
    });

  image
    .command('inspect')
    .description('partition table, filesystem, label, boot code, root files, and whether BIOS / UEFI would boot it')
    .argument('<file>')
    .action(async (file: string) => {
      await imageInspectCommand({ file }, deps());
    });

  image
    .command('unraid-releases')
    .description('list unRAID releases from the release list')
    .option('--branch <name>', 'only this branch')
    .option('--releases-url <url>', `release list (default ${DEFAULT_UNRAID_RELEASES})`)
    .action(async (o: { branch?: string; releasesUrl?: string }) => {
      await imageReleasesCommand({ branch: o.branch, branchesUrl: releasesUrl(o) }, deps());
    });

  image
    .command('download')
    .description('download an unRAID release zip and verify its checksum')
    .argument('<version>')
    .option('--dir <dir>', 'where to put it', '.')
    .option('--branch <name>')
    .option('--releases-url <url>')
    .option('--force', 'download again even if present')
    .action(async (version: string, o: { dir: string; branch?: string; releasesUrl?: string; force?: boolean }) => {
      await imageDownloadCommand({ ...o, version, branchesUrl: releasesUrl(o) }, deps());
    });
}
