// Whether an export's delivery asks for something its destination cannot do: each missing
// capability is named at the field that asked for it (GET /destinations lists capabilities).
import { capabilitiesOf, type DestinationAdapter } from '../destinations/destination.js';
import type { FieldError } from '../errors.js';
import type { Delivery, ExportRecord } from './exportDefinition.js';

export function missingCapabilities(destination: DestinationAdapter, kind: ExportRecord['kind'], delivery: Delivery): FieldError[] {
  const errors: FieldError[] = [];
  if (kind !== 'segment') {
    if (delivery.mode !== 'full' || delivery.removals)
      errors.push({
        path: 'body.delivery',
        message: 'delivery modes apply to segment exports; a data-out export says incremental in its details',
      });
    return errors;
  }
  const capabilities = capabilitiesOf(destination);
  if (delivery.mode === 'changes' && !capabilities.changes)
    errors.push({ path: 'body.delivery.mode', message: `${destination.displayName} lacks the 'changes' capability; use mode 'full'` });
  if (delivery.removals && !capabilities.removals)
    errors.push({
      path: 'body.delivery.removals',
      message: `${destination.displayName} lacks the 'removals' capability (it cannot take members off a list); set removals to false`,
    });
  return errors;
}
