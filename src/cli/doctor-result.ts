/** One line of `doctor`: the checks (doctor-host, doctor-cluster, doctor-kernels) return these. */
export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface CheckResult {
  check: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}
