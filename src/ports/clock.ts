/** Port: time. host/enumeration.ts has the real one (realClock); tests pass their own. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}
