// `cp --reflink=always` for the backup and snapshot tests: records each call in `events`; with
// `reflink` false it fails like a filesystem without reflinks, else it copies.
import { copyFileSync } from 'node:fs';
import type { Cloner } from '../../src/backup/capture.js';

export function fakeCloner(events: string[], reflink: boolean | undefined): Cloner {
  return {
    reflink: async (src, dst) => {
      events.push('reflink');
      if (!reflink) return false;
      copyFileSync(src, dst);
      return true;
    },
  };
}
