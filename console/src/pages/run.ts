// Progress details of one run: status, timings, counts, tasks with chunks, throughput and ETA,
// polled while the run goes; Cancel; the failed and skipped records with reasons, and as CSV.
import { get, post, request, describeError } from '../api.js';
import { formatDuration, formatNumber, formatTime, h, notice, replaceChildren } from '../dom.js';
import type { PageContext } from '../pageContext.js';
import type { ExportView, RecordOutcome, RunView } from '../types.js';
import { TERMINAL_RUN_STATUSES } from '../types.js';

const POLL_MS = 1000;

export async function renderRun({ main, params, onLeave }: PageContext): Promise<void> {
  const base = `/exports/${params.id}/runs/${params.runId}`;
  const exported = (await get<ExportView>(`/exports/${params.id}`)).body;
  const canEdit = exported.yourPermissions === 'edit';
  const status = h('div', { class: 'status-area', 'aria-live': 'polite' });
  const progressArea = h('div', { 'aria-live': 'off' });
  const liveStatus = h('p', { class: 'run-status', role: 'status' });
  const recordsArea = h('section', { 'aria-labelledby': 'records-heading' });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let left = false;
  onLeave(() => {
    left = true;
    clearTimeout(timer);
  });

  const recordsState = { status: '' as '' | 'failed' | 'skipped', tokens: [undefined] as (string | undefined)[], page: 0 };

  async function loadRecords(): Promise<void> {
    const page = (
      await get<{ items: RecordOutcome[]; continuationToken?: string }>(`${base}/records`, {
        status: recordsState.status || undefined,
        top: 50,
        continuationToken: recordsState.tokens[recordsState.page],
      })
    ).body;
    const filter = h(
      'select',
      {
        id: 'records-filter',
        on: {
          change: (event: Event) => {
            recordsState.status = (event.target as HTMLSelectElement).value as typeof recordsState.status;
            recordsState.tokens = [undefined];
            recordsState.page = 0;
            void loadRecords();
          },
        },
      },
      ...[
        ['', 'Failed and skipped'],
        ['failed', 'Failed'],
        ['skipped', 'Skipped'],
      ].map(([value, label]) => h('option', { value, selected: value === recordsState.status }, label)),
    );
    replaceChildren(
      recordsArea,
      h('h2', { id: 'records-heading' }, 'Failed and skipped records'),
      h(
        'div',
        { class: 'toolbar' },
        h('div', { class: 'field inline-field' }, h('label', { for: 'records-filter' }, 'Show'), filter),
        h('button', { type: 'button', class: 'secondary', on: { click: () => void downloadCsv() } }, 'Download CSV'),
      ),
      page.items.length
        ? h(
            'div',
            { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Records' },
            h(
              'table',
              { class: 'records' },
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ...['Email', 'Status', 'Reason', 'Code', 'Message', 'Segment'].map((label) => h('th', { scope: 'col' }, label)),
                ),
              ),
              h(
                'tbody',
                null,
                ...page.items.map((record) =>
                  h(
                    'tr',
                    null,
                    h('td', null, record.email),
                    h('td', null, record.status),
                    h('td', null, record.category),
                    h('td', null, record.code),
                    h('td', null, record.message),
                    h('td', null, record.segmentId),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'empty' }, 'No failed or skipped records (so far).'),
      h(
        'nav',
        { class: 'pager', 'aria-label': 'Record pages' },
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            disabled: recordsState.page === 0,
            on: {
              click: () => {
                recordsState.page--;
                void loadRecords();
              },
            },
          },
          'Previous page',
        ),
        h('span', null, `Page ${recordsState.page + 1}`),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            disabled: !page.continuationToken,
            on: {
              click: () => {
                recordsState.tokens[recordsState.page + 1] = page.continuationToken;
                recordsState.page++;
                void loadRecords();
              },
            },
          },
          'Next page',
        ),
      ),
    );
  }

  /** The CSV comes with the bearer token in a header, so it is fetched and handed to the browser as a file. */
  async function downloadCsv(): Promise<void> {
    try {
      const response = await request<string>('GET', `${base}/records`, {
        accept: 'text/csv',
        query: { status: recordsState.status || undefined, top: 5000 },
      });
      const url = URL.createObjectURL(new Blob([response.body], { type: 'text/csv' }));
      const link = h('a', { href: url, download: `run-${params.runId}-records.csv`, hidden: true });
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (error) {
      replaceChildren(status, notice(describeError(error), 'error'));
    }
  }

  function renderProgress(run: RunView): void {
    const terminal = TERMINAL_RUN_STATUSES.includes(run.status);
    const send = run.tasks.find((task) => task.name === 'send');
    const done = run.counts.succeeded + run.counts.failed + run.counts.skipped;
    const total = run.counts.members;
    liveStatus.textContent = `Status: ${run.status}${run.reason ? ` — ${run.reason}` : ''}`;
    liveStatus.className = `run-status status-${run.status}`;
    replaceChildren(
      progressArea,
      h(
        'div',
        { class: 'progress-line' },
        h('label', { for: 'run-progress' }, 'Records processed'),
        h('progress', {
          id: 'run-progress',
          max: String(Math.max(total, 1)),
          value: String(terminal && total === 0 ? 1 : Math.min(done, total)),
        }),
        h('span', null, `${formatNumber(done)} of ${formatNumber(total)}`),
      ),
      h(
        'dl',
        { class: 'facts' },
        ...[
          ['Trigger', run.trigger],
          ['Requested by', run.requestedBy.name],
          ['Created', formatTime(run.createdAt)],
          ['Started', formatTime(run.startedAt)],
          ['Finished', formatTime(run.finishedAt)],
          [
            'Duration',
            run.startedAt
              ? formatDuration(((run.finishedAt ? Date.parse(run.finishedAt) : Date.now()) - Date.parse(run.startedAt)) / 1000)
              : '—',
          ],
          // Predicted beside actual: what the plan said at the start, and the time so far (or in all).
          [
            'Predicted',
            run.prediction ? `${formatDuration(run.prediction.predictedSeconds)}, ${formatNumber(run.prediction.calls)} vendor calls` : '—',
          ],
          ['Actual time', formatDuration(run.actualSeconds ?? null)],
          [
            'Lake snapshot',
            run.provenance?.lake ? `model.json ${run.provenance.lake.etag}, modified ${formatTime(run.provenance.lake.lastModified)}` : '—',
          ],
          ...(run.provenance?.refreshId ? [['Fired by refresh', run.provenance.refreshId]] : []),
          ['Throughput', send?.membersPerSecond !== undefined ? `${formatNumber(Math.round(send.membersPerSecond))} members/s` : '—'],
          ['ETA', terminal ? '—' : formatDuration(send?.etaSeconds ?? null)],
          ...(run.waitingFor ? [['Waiting for refresh', run.waitingFor]] : []),
        ].flatMap(([label, value]) => [h('dt', null, label), h('dd', null, value)]),
      ),
      h('h2', null, 'Counts'),
      h(
        'dl',
        { class: 'counts' },
        ...(['members', 'sent', 'succeeded', 'failed', 'skipped'] as const).flatMap((key) => [
          h('dt', null, key),
          h('dd', { 'data-count': key }, formatNumber(run.counts[key])),
        ]),
      ),
      h('h2', null, 'Tasks'),
      h(
        'div',
        { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Tasks' },
        h(
          'table',
          { class: 'tasks' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ...['Task', 'Status', 'Started', 'Finished', 'Chunks', 'Members/s', 'ETA', 'Detail'].map((label) =>
                h('th', { scope: 'col' }, label),
              ),
            ),
          ),
          h(
            'tbody',
            null,
            ...run.tasks.map((task) =>
              h(
                'tr',
                null,
                h('td', null, task.name),
                h('td', null, h('span', { class: `status status-${task.status}` }, task.status)),
                h('td', null, formatTime(task.startedAt)),
                h('td', null, formatTime(task.finishedAt)),
                h(
                  'td',
                  null,
                  task.chunks
                    ? `${task.chunks.done} of ${task.chunks.total}${task.chunks.failed ? ` (${task.chunks.failed} failed)` : ''}`
                    : '—',
                ),
                h('td', { class: 'number' }, task.membersPerSecond !== undefined ? formatNumber(Math.round(task.membersPerSecond)) : '—'),
                h('td', null, task.status === 'running' ? formatDuration(task.etaSeconds ?? null) : '—'),
                h('td', null, task.detail ?? ''),
              ),
            ),
          ),
        ),
      ),
    );
    cancelButton.hidden = terminal || !canEdit;
  }

  const cancelButton = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      hidden: true,
      on: {
        click: async () => {
          try {
            cancelButton.disabled = true;
            renderProgress((await post<RunView>(`${base}/cancel`)).body);
            replaceChildren(status, notice('Cancelling: no new batches start; the run ends with the counts sent so far.', 'info'));
          } catch (error) {
            replaceChildren(status, notice(describeError(error), 'error'));
          } finally {
            cancelButton.disabled = false;
          }
        },
      },
    },
    'Cancel run',
  );

  async function poll(): Promise<void> {
    if (left) return;
    try {
      const run = (await get<RunView>(base)).body;
      if (left) return;
      renderProgress(run);
      if (!TERMINAL_RUN_STATUSES.includes(run.status)) {
        timer = setTimeout(() => void poll(), POLL_MS);
      } else {
        await loadRecords();
      }
    } catch (error) {
      replaceChildren(status, notice(describeError(error), 'error'));
      timer = setTimeout(() => void poll(), POLL_MS * 5);
    }
  }

  replaceChildren(
    main,
    h(
      'p',
      { class: 'crumbs' },
      h('a', { href: '#/exports' }, 'Exports'),
      ' / ',
      h('a', { href: `#/exports/${exported.id}` }, exported.name),
      ' / run',
    ),
    h('div', { class: 'page-head' }, h('h1', null, `Run of ${exported.name}`), h('div', { class: 'actions' }, cancelButton)),
    liveStatus,
    status,
    progressArea,
    recordsArea,
  );
  await poll();
  if (!recordsArea.hasChildNodes()) await loadRecords();
}
