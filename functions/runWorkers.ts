// The run core's workers, registered once for every entry point that plans runs or works chunks.
import { registerRunWorker } from '../shared/runs/workers.js';
import { segmentSender } from '../shared/segmentSender/segmentSender.js';
import { dataOutWriter } from '../shared/dataOut/dataOutWriter.js';

registerRunWorker(segmentSender);
registerRunWorker(dataOutWriter);
