/**
 * Which transfer scheduler a dummy_hcd uses. The 2024 rewrite (mainline a7f3813e589f, 6.10; backported
 * to 6.1.116 and 6.6.60) arms an hrtimer every 125 us: tens of MB/s. The old code runs once per jiffy:
 * about 1 MB/s at HZ=250. Read from the source text, or from the symbols a built module imports.
 */
export type Scheduler = 'hrtimer' | 'jiffies' | 'unknown';

export function schedulerOfSource(text: string): Scheduler {
  if (/struct hrtimer\s+timer\b/.test(text)) return 'hrtimer';
  if (/struct timer_list\s+timer\b/.test(text)) return 'jiffies';
  return 'unknown';
}

/** From the module's symbol names (its text, decompressed): hrtimer_start_range_ns vs mod_timer. */
export function schedulerOfModule(text: string): Scheduler {
  if (text.includes('hrtimer_start_range_ns')) return 'hrtimer';
  if (text.includes('mod_timer')) return 'jiffies';
  return 'unknown';
}

export const JIFFIES_WARNING =
  'dummy_hcd uses the old jiffies transfer scheduler: about 1 MB/s (an unRAID boot takes minutes instead of seconds)';
