// The count a plan made just before a run (countChanges.ts): its time per pass is the machine's
// speed at a comparison then, and the run's recorded prediction is made from it as the plan's was,
// so that calibration.ts learns the comparison's time over the count's. The plan stores only its
// audit line; the count's time is in it.
import { auditSince } from '../audit/auditLog.js';

/** A plan older than this says little about the machine the run met. */
const RECENT_MINUTES = 15;

export async function countedBefore(exportId: string, members: number, runStartedAt: string | null): Promise<number | undefined> {
  const started = runStartedAt ? new Date(runStartedAt) : new Date();
  const plans = await auditSince('export.plan', new Date(started.getTime() - RECENT_MINUTES * 60_000));
  const plan = plans.find(
    (entry) => entry.target.id === exportId && entry.at <= started.toISOString() && entry.details?.members === members,
  );
  const seconds = plan?.details?.countedSeconds;
  return typeof seconds === 'number' && seconds > 0 ? seconds : undefined;
}
