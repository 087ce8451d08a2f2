/** Port: the host-wide lock. host/lock.ts has the real one (flockHostLock, a flock(1) child). */
export type Release = () => Promise<void>;

export interface HostLock {
  acquire(): Promise<Release>;
}
