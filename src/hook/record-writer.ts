import type { GadgetRecord, StateStore } from '../state/record.js';

/**
 * The one place a pre-start writes its state record. Each change makes a new record from the current
 * one (never changed in place, so what was written is what `current` says) and writes it whole at once
 * (StateStore.write is atomic): a hook killed between two writes leaves the last one, which teardown
 * acts on. Writes happen as often as crash safety needs: before each thing the record describes exists.
 */
export interface RecordWriter {
  readonly current: GadgetRecord;
  update(change: Partial<GadgetRecord> | ((r: GadgetRecord) => GadgetRecord)): GadgetRecord;
}

/** Writes `first` now and returns the writer for every later change. */
export function recordWriter(state: Pick<StateStore, 'write'>, first: GadgetRecord): RecordWriter {
  let current = first;
  state.write(current);
  return {
    get current() {
      return current;
    },
    update(change) {
      current = typeof change === 'function' ? change(current) : { ...current, ...change };
      state.write(current);
      return current;
    },
  };
}
