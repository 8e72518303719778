// What a host instance process and its supervisor tell each other.

/** Exit code of an instance recycled after a function timeout (EX_TEMPFAIL). */
export const RECYCLE_EXIT_CODE = 75;

/** Sent by an instance once it listens and its triggers run. */
export interface InstanceReady {
  type: 'ready';
  port: number;
}

/** Sent by an instance that takes no new work any more (recycling or shutting down). */
export interface InstanceDraining {
  type: 'draining';
}

/** One line of GET /admin/host/instances on the front door (local only; tests kill instances by pid). */
export interface InstanceInfo {
  instance: number;
  pid: number | undefined;
  port: number | undefined;
  ready: boolean;
  restarts: number;
}
