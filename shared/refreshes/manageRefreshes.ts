// Use cases for refresh processes: the upstream (role system) reports them; any role reads them.
// When one ends, the schedules that wait on it move on in the same request.
import type { Principal } from '../auth/principal.js';
import { recordAudit } from '../audit/auditLog.js';
import { Conflict, PreconditionFailed } from '../errors.js';
import { onRefreshEnded, type RefreshEffects } from '../schedules/refreshEnded.js';
import type { RefreshRecord, ReportRefreshBody, UpdateRefreshBody } from './refresh.js';
import { getRefresh, insertRefresh, newRefreshId, replaceRefresh } from './refreshStore.js';

export async function reportRefresh(
  principal: Principal,
  body: ReportRefreshBody,
  now = new Date(),
): Promise<{ refresh: RefreshRecord; effects?: RefreshEffects }> {
  const at = now.toISOString();
  const refresh = await insertRefresh({
    id: newRefreshId(now),
    process: body.process,
    status: body.status,
    entities: [...new Set(body.entities)],
    segments: [...new Set(body.segments)],
    reason: body.reason ?? null,
    reportedBy: { id: principal.id, name: principal.name },
    startedAt: at,
    // Reported after the fact: it started and ended now, as far as Outflow knows.
    finishedAt: body.status === 'running' ? null : at,
    updatedAt: at,
    etag: '',
  });
  await recordAudit(principal, 'refresh.reported', { type: 'refresh', id: refresh.id, name: refresh.process }, { status: refresh.status });
  if (refresh.status === 'running') return { refresh };
  return { refresh, effects: await onRefreshEnded(refresh, now) };
}

/**
 * Ends (or re-reports) a refresh. Repeating the status it has is a no-op, so the upstream can
 * retry; an ended refresh cannot change its outcome (409). Honours If-Match.
 */
export async function updateRefresh(
  principal: Principal,
  id: string,
  body: UpdateRefreshBody,
  ifMatch: string | undefined,
  now = new Date(),
): Promise<{ refresh: RefreshRecord; effects?: RefreshEffects }> {
  const current = await getRefresh(id);
  if (ifMatch && ifMatch !== '*' && ifMatch !== current.etag) {
    throw new PreconditionFailed(`Refresh '${id}' has changed (ETag ${current.etag}); read it again and retry.`);
  }
  if (current.status === body.status) return { refresh: current };
  if (current.status !== 'running') {
    throw new Conflict(`Refresh '${id}' has already ended (${current.status}); report a new refresh instead.`, { status: current.status });
  }
  const at = now.toISOString();
  const refresh = await replaceRefresh(
    {
      ...current,
      status: body.status,
      reason: body.reason ?? current.reason,
      finishedAt: body.status === 'running' ? null : at,
      updatedAt: at,
    },
    current.etag,
  );
  await recordAudit(principal, 'refresh.updated', { type: 'refresh', id, name: refresh.process }, { status: refresh.status });
  if (refresh.status === 'running') return { refresh };
  return { refresh, effects: await onRefreshEnded(refresh, now) };
}
