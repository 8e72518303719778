// The prediction a run records when its planner starts: the same model as `POST /exports/{id}/plan`,
// for the members the planner found, with the other runs on the connection at that moment. It
// covers the whole run from its start, planning included (a delivery run records it once its
// comparison has counted the changes, but predicts the comparison as a plan would), and keeps
// the model's own part times so that later predictions learn each part (calibration.ts).
import type { DestinationAdapter } from '../destinations/destination.js';
import type { RateLimit } from '../runs/destinationAccess.js';
import type { RunPrediction } from '../runs/run.js';
import { loadLakeModel, segmentsOf } from '../lake/segmentCatalog.js';
import type { CdmModel } from '../lake/cdmModel.js';
import { connectionLoad } from './connectionLoad.js';
import { calibrationFor, partFactors } from './calibration.js';
import { predictRun, type RunWork } from './predictRun.js';
import type { Logger } from '../observability/log.js';

export async function predictionAtStart(
  run: { exportId: string; id: string },
  connectionId: string,
  destination: DestinationAdapter,
  rate: RateLimit,
  work: RunWork,
  model?: CdmModel,
): Promise<RunPrediction> {
  const segments = segmentsOf(model ?? (await loadLakeModel()));
  const load = await connectionLoad(run.exportId, connectionId, destination, rate, segments, new Date());
  const calibration = await calibrationFor([run.exportId, ...load.exportIds], load.deploymentExportIds, work.planning?.kind);
  const prediction = predictRun(destination, rate, work, load.competing, partFactors(calibration));
  return {
    calibration: calibration.factor,
    planningCalibration: calibration.planning,
    members: work.send.reduce((sum, members) => sum + members, 0) + work.remove,
    calls: prediction.calls,
    rateCalls: prediction.rateCalls,
    predictedSeconds: prediction.predictedSeconds,
    model: prediction.model,
  };
}

/** The prediction to record, or none when it cannot be made: a prediction never holds a run up. */
export async function recordedPrediction(
  run: { exportId: string; id: string },
  connectionId: string,
  destination: DestinationAdapter,
  rate: RateLimit,
  work: RunWork,
  model: CdmModel,
  log: Logger,
): Promise<RunPrediction | undefined> {
  try {
    return await predictionAtStart(run, connectionId, destination, rate, work, model);
  } catch (error) {
    log.warn(`No prediction recorded: ${(error as Error).message}`);
    return undefined;
  }
}
