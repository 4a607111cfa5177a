import type { TestProcess } from './processes.js';

/**
 * Wraps a process so that stopping it first sends SIGCONT: a SIGSTOPped daemon would
 * otherwise ignore SIGTERM until the SIGKILL grace period ends. Add the wrapper (not the
 * original) to the ProcessGroup.
 */
export function resumeBeforeStop(proc: TestProcess): TestProcess {
  return {
    ...proc,
    stop: async (graceMs?: number) => {
      resumeProcess(proc);
      await proc.stop(graceMs);
    },
  };
}

/** SIGSTOP: the process keeps its sockets but stops answering (e.g. to let a hold timer expire). */
export function pauseProcess(proc: TestProcess): void {
  proc.signal('SIGSTOP');
}

/** SIGCONT: undoes {@link pauseProcess}. Does nothing if the process has exited. */
export function resumeProcess(proc: TestProcess): void {
  try {
    proc.signal('SIGCONT');
  } catch {
    // Deliberate: the process exited between the check in signal() and kill(); nothing to resume.
  }
}
