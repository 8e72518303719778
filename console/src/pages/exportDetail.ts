// One export: its definition and its run history (newest first), with Edit and Run for writers.
import { get, post, describeError } from '../api.js';
import { formatNumber, formatTime, h, notice, replaceChildren } from '../dom.js';
import { describeSchedule } from '../schedule.js';
import type { PageContext } from '../pageContext.js';
import type { ExportView, RunView } from '../types.js';

export async function renderExportDetail({ main, params }: PageContext): Promise<void> {
  const [exported, runs] = await Promise.all([
    get<ExportView>(`/exports/${params.id}`),
    get<{ items: RunView[]; continuationToken?: string }>(`/exports/${params.id}/runs`, { top: 50 }),
  ]);
  const view = exported.body;
  const status = h('div', { class: 'status-area', 'aria-live': 'polite' });
  const canEdit = view.yourPermissions === 'edit';
  const row = (label: string, value: string | Node) => [h('dt', null, label), h('dd', null, value)];
  const mapping = Object.entries(view.mapping);
  replaceChildren(
    main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/exports' }, 'Exports'), ' / ', view.name),
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, view.name),
      canEdit
        ? h(
            'div',
            { class: 'actions' },
            h('a', { class: 'button', href: `#/exports/${view.id}/edit` }, 'Edit'),
            view.connectionId
              ? h(
                  'button',
                  {
                    type: 'button',
                    class: 'secondary',
                    on: {
                      click: async () => {
                        try {
                          const run = await post<{ runId: string }>(`/exports/${view.id}/runs`);
                          location.hash = `#/exports/${view.id}/runs/${run.body.runId}`;
                        } catch (error) {
                          replaceChildren(status, notice(describeError(error), 'error'));
                        }
                      },
                    },
                  },
                  'Run now',
                )
              : null,
          )
        : null,
    ),
    status,
    h(
      'dl',
      { class: 'facts' },
      row('Connection', view.connectionId ? `${view.connectionName} (${view.connectionType})` : 'No connection'),
      row('Kind', view.kind === 'dataOut' ? 'Data out (CDM folder)' : 'Segments'),
      row(view.kind === 'dataOut' ? 'Entities and segments' : 'Segments', [...view.entities, ...view.segments].join(', ') || '—'),
      row('Status', view.status),
      row('Schedule', describeSchedule(view.schedule)),
      row('Next run', formatTime(view.nextRun)),
      row('Last refreshed', formatTime(view.lastRefreshed)),
      row('Your permissions', view.yourPermissions === 'edit' ? 'Edit' : 'View'),
    ),
    h('h2', null, 'Data matching'),
    mapping.length
      ? h(
          'table',
          null,
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Destination field'), h('th', { scope: 'col' }, 'Source attribute'))),
          h('tbody', null, ...mapping.map(([to, from]) => h('tr', null, h('td', null, to), h('td', null, from)))),
        )
      : h('p', null, 'Every attribute, with its own name.'),
    h('h2', null, 'Run history'),
    runs.body.items.length
      ? h(
          'div',
          { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Run history' },
          h(
            'table',
            { class: 'runs' },
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ...['Run', 'Status', 'Trigger', 'Requested by', 'Started', 'Finished', 'Members', 'Succeeded', 'Failed', 'Skipped'].map(
                  (label) => h('th', { scope: 'col' }, label),
                ),
              ),
            ),
            h(
              'tbody',
              null,
              ...runs.body.items.map((run) =>
                h(
                  'tr',
                  null,
                  h('td', null, h('a', { href: `#/exports/${view.id}/runs/${run.id}` }, formatTime(run.createdAt))),
                  h('td', null, h('span', { class: `status status-${run.status}` }, run.status)),
                  h('td', null, run.trigger),
                  h('td', null, run.requestedBy.name),
                  h('td', null, formatTime(run.startedAt)),
                  h('td', null, formatTime(run.finishedAt)),
                  h('td', { class: 'number' }, formatNumber(run.counts.members)),
                  h('td', { class: 'number' }, formatNumber(run.counts.succeeded)),
                  h('td', { class: 'number' }, formatNumber(run.counts.failed)),
                  h('td', { class: 'number' }, formatNumber(run.counts.skipped)),
                ),
              ),
            ),
          ),
        )
      : h('p', null, 'No runs yet.'),
  );
}
