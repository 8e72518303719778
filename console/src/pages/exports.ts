// Exports: the seeds' columns, sorted by any of them (by the API), search, pages, multi-select for
// the bulk schedule dialog, Run all, and per row only what the user may do.
import { get, post, request, describeError, ApiError } from '../api.js';
import { formatTime, h, notice, replaceChildren, uniqueId } from '../dom.js';
import { confirmDialog, openDialog } from '../dialogs.js';
import { describeSchedule, scheduleEditor } from '../schedule.js';
import type { PageContext } from '../pageContext.js';
import type { ExportView } from '../types.js';

const COLUMNS: { key: string; label: string; value(view: ExportView): string | Node }[] = [
  { key: 'name', label: 'Name', value: (view) => h('a', { href: `#/exports/${view.id}` }, view.name) },
  { key: 'connectionName', label: 'Connection', value: (view) => view.connectionName },
  { key: 'connectionType', label: 'Connection type', value: (view) => view.connectionType },
  {
    key: 'status',
    label: 'Status',
    value: (view) => h('span', { class: `status status-${view.status}` }, STATUS_LABELS[view.status] ?? view.status),
  },
  { key: 'schedule', label: 'Schedule', value: (view) => describeSchedule(view.schedule) },
  { key: 'lastRefreshed', label: 'Refreshed', value: (view) => formatTime(view.lastRefreshed) },
  { key: 'yourPermissions', label: 'Your permissions', value: (view) => (view.yourPermissions === 'edit' ? 'Edit' : 'View') },
];

const STATUS_LABELS: Record<string, string> = { active: 'Active', inactive: 'Inactive', noConnection: 'No connection' };
const PAGE_SIZES = [10, 25, 50, 100];

/** Kept while the console is open, so coming back to the list finds it as it was left. */
const state = { search: '', sort: 'name', order: 'asc' as 'asc' | 'desc', top: 25, tokens: [undefined] as (string | undefined)[], page: 0 };

export async function renderExports({ main, user }: PageContext): Promise<void> {
  const selected = new Set<string>();
  let items: ExportView[] = [];
  let nextToken: string | undefined;
  const status = h('div', { class: 'status-area', 'aria-live': 'polite' });
  const tableArea = h('div');
  const searchInput = h('input', { type: 'search', value: state.search, name: 'search', autocomplete: 'off' });
  const pageSize = h(
    'select',
    { name: 'pageSize' },
    ...PAGE_SIZES.map((size) => h('option', { value: String(size), selected: size === state.top }, String(size))),
  );
  const bulkButton = h('button', { type: 'button', disabled: true, on: { click: () => openBulkSchedule() } }, 'Edit schedules');
  const selectionText = h('span', { class: 'selection', 'aria-live': 'polite' });

  const load = async () => {
    const page = await get<{ items: ExportView[]; continuationToken?: string }>('/exports', {
      search: state.search || undefined,
      sort: state.sort,
      order: state.order,
      top: state.top,
      continuationToken: state.tokens[state.page],
    });
    items = page.body.items;
    nextToken = page.body.continuationToken;
    renderTable();
  };

  const reload = () => load().catch((error) => replaceChildren(status, notice(describeError(error), 'error')));

  const updateSelection = () => {
    bulkButton.disabled = selected.size === 0;
    selectionText.textContent = selected.size ? `${selected.size} selected` : '';
  };

  function sortButton(column: (typeof COLUMNS)[number]): HTMLElement {
    const active = state.sort === column.key;
    return h(
      'button',
      {
        type: 'button',
        class: 'sort',
        on: {
          click: () => {
            state.order = active && state.order === 'asc' ? 'desc' : 'asc';
            state.sort = column.key;
            state.tokens = [undefined];
            state.page = 0;
            void reload().then(() => tableArea.querySelector<HTMLElement>(`[data-sort="${column.key}"] button`)?.focus());
          },
        },
      },
      column.label,
      h('span', { class: 'sort-mark', 'aria-hidden': 'true' }, active ? (state.order === 'asc' ? ' ▲' : ' ▼') : ''),
    );
  }

  function rowActions(view: ExportView): HTMLElement {
    const canEdit = view.yourPermissions === 'edit';
    const act = (label: string, action: () => Promise<unknown>, extra: Record<string, unknown> = {}) =>
      h(
        'button',
        {
          type: 'button',
          class: 'small secondary',
          'aria-label': `${label} ${view.name}`,
          ...extra,
          on: { click: () => action().catch((error) => replaceChildren(status, notice(describeError(error), 'error'))) },
        },
        label,
      );
    return h(
      'div',
      { class: 'row-actions' },
      h('a', { class: 'button small secondary', href: `#/exports/${view.id}`, 'aria-label': `View ${view.name}` }, 'View'),
      canEdit
        ? h('a', { class: 'button small secondary', href: `#/exports/${view.id}/edit`, 'aria-label': `Edit ${view.name}` }, 'Edit')
        : null,
      canEdit && view.connectionId
        ? act('Run', async () => {
            const run = await post<{ runId: string }>(`/exports/${view.id}/runs`);
            location.hash = `#/exports/${view.id}/runs/${run.body.runId}`;
          })
        : null,
      canEdit
        ? act('Duplicate', async () => {
            const copy = await post<ExportView>(`/exports/${view.id}/duplicate`);
            await load();
            replaceChildren(status, notice(`Duplicated as "${copy.body.name}" (inactive until you switch its schedule on).`, 'success'));
          })
        : null,
      canEdit && view.connectionId
        ? act('Disconnect', async () => {
            if (
              !(await confirmDialog(
                'Disconnect export',
                `Disconnect "${view.name}" from ${view.connectionName}? It keeps its definition and is switched off.`,
                'Disconnect',
              ))
            )
              return;
            await request('POST', `/exports/${view.id}/disconnect`, { ifMatch: view.etag });
            await load();
            replaceChildren(status, notice(`"${view.name}" is disconnected.`, 'success'));
          })
        : null,
      canEdit
        ? act('Remove', async () => {
            if (!(await confirmDialog('Remove export', `Remove "${view.name}"? Its definition and run history go away.`, 'Remove'))) return;
            await request('DELETE', `/exports/${view.id}`, { ifMatch: view.etag });
            selected.delete(view.id);
            await load();
            replaceChildren(status, notice(`"${view.name}" is removed.`, 'success'));
          })
        : null,
    );
  }

  function renderTable(): void {
    sortSelect.value = state.sort;
    orderSelect.value = state.order;
    const allBox = h('input', {
      type: 'checkbox',
      'aria-label': 'Select all exports on this page',
      checked: items.length > 0 && items.filter((view) => view.yourPermissions === 'edit').every((view) => selected.has(view.id)),
      on: {
        change: (event: Event) => {
          const on = (event.target as HTMLInputElement).checked;
          for (const view of items) {
            if (view.yourPermissions !== 'edit') continue;
            if (on) selected.add(view.id);
            else selected.delete(view.id);
          }
          renderTable();
          updateSelection();
        },
      },
    });
    const table = h(
      'table',
      { class: 'exports' },
      h('caption', { class: 'visually-hidden' }, 'Exports'),
      h(
        'thead',
        null,
        h(
          'tr',
          null,
          user.isWriter ? h('th', { scope: 'col', class: 'select' }, allBox) : null,
          ...COLUMNS.map((column) =>
            h(
              'th',
              {
                scope: 'col',
                'data-sort': column.key,
                'aria-sort': state.sort === column.key ? (state.order === 'asc' ? 'ascending' : 'descending') : undefined,
              },
              sortButton(column),
            ),
          ),
          h('th', { scope: 'col' }, 'Actions'),
        ),
      ),
      h(
        'tbody',
        null,
        ...items.map((view) =>
          h(
            'tr',
            { 'data-id': view.id },
            user.isWriter
              ? h(
                  'td',
                  { class: 'select', 'data-label': 'Select' },
                  view.yourPermissions === 'edit'
                    ? h('input', {
                        type: 'checkbox',
                        'aria-label': `Select ${view.name}`,
                        checked: selected.has(view.id),
                        on: {
                          change: (event: Event) => {
                            if ((event.target as HTMLInputElement).checked) selected.add(view.id);
                            else selected.delete(view.id);
                            updateSelection();
                          },
                        },
                      })
                    : null,
                )
              : null,
            ...COLUMNS.map((column) => h('td', { 'data-column': column.key, 'data-label': column.label }, column.value(view))),
            h('td', { 'data-label': 'Actions' }, rowActions(view)),
          ),
        ),
      ),
    );
    const pager = h(
      'nav',
      { class: 'pager', 'aria-label': 'Pages' },
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          disabled: state.page === 0,
          on: {
            click: () => {
              state.page--;
              void reload();
            },
          },
        },
        'Previous page',
      ),
      h('span', null, `Page ${state.page + 1}`),
      h(
        'button',
        {
          type: 'button',
          class: 'secondary',
          disabled: !nextToken,
          on: {
            click: () => {
              state.tokens[state.page + 1] = nextToken;
              state.page++;
              void reload();
            },
          },
        },
        'Next page',
      ),
    );
    replaceChildren(
      tableArea,
      items.length === 0
        ? h('p', { class: 'empty' }, state.search ? `No export matches "${state.search}".` : 'No exports yet.')
        : h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Exports table' }, table),
      pager,
    );
  }

  function openBulkSchedule(): void {
    const ids = [...selected];
    const keepName = uniqueId('bulk-mode');
    const keep = h('input', { type: 'radio', name: keepName, value: 'keep', checked: true });
    const override = h('input', { type: 'radio', name: keepName, value: 'override' });
    const onName = uniqueId('bulk-on');
    const switchOn = h('input', { type: 'radio', name: onName, value: 'on', checked: true });
    const switchOff = h('input', { type: 'radio', name: onName, value: 'off' });
    const keepPart = h(
      'fieldset',
      null,
      h('legend', null, 'Switch the selected schedules'),
      h('label', { class: 'inline' }, switchOn, ' On'),
      h('label', { class: 'inline' }, switchOff, ' Off'),
    );
    const editor = scheduleEditor(
      { active: true, mode: 'custom', recurrence: { frequency: 'daily', interval: 1, time: '06:00', timeZone: 'UTC' } },
      { pathPrefix: 'body.schedule' },
    );
    const problems = h('div', { class: 'status-area' });
    const sync = () => {
      keepPart.hidden = !keep.checked;
      editor.element.hidden = !override.checked;
    };
    keep.addEventListener('change', sync);
    override.addEventListener('change', sync);
    sync();
    const form = h(
      'form',
      {
        on: {
          submit: async (event: SubmitEvent) => {
            event.preventDefault();
            const body = keep.checked
              ? { exportIds: ids, mode: 'keep', active: switchOn.checked }
              : { exportIds: ids, mode: 'override', schedule: editor.value() };
            try {
              const result = await post<{ items: ExportView[] }>('/exports/schedules', body);
              dialog.close();
              replaceChildren(
                status,
                notice(`Schedules changed for ${result.body.items.length} export${result.body.items.length === 1 ? '' : 's'}.`, 'success'),
              );
              selected.clear();
              updateSelection();
              await load();
            } catch (error) {
              const names = new Map(items.map((view) => [view.id, view.name]));
              const errors = error instanceof ApiError ? (error.problem.errors ?? []) : [];
              replaceChildren(
                problems,
                notice(
                  h(
                    'div',
                    null,
                    h('p', null, describeError(error)),
                    errors.length
                      ? h(
                          'ul',
                          null,
                          ...errors.map((e) =>
                            h('li', null, `${e.exportId ? `${names.get(e.exportId) ?? e.exportId}: ` : ''}${e.message}`),
                          ),
                        )
                      : null,
                  ),
                  'error',
                ),
              );
            }
          },
        },
      },
      h(
        'p',
        null,
        `${ids.length} export${ids.length === 1 ? '' : 's'} selected: ${ids.map((id) => items.find((view) => view.id === id)?.name ?? id).join(', ')}.`,
      ),
      h(
        'fieldset',
        null,
        h('legend', null, 'What to change'),
        h('label', { class: 'inline' }, keep, ' Keep individual schedules'),
        h('label', { class: 'inline' }, override, ' Define a new schedule for all'),
      ),
      keepPart,
      editor.element,
      problems,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit' }, 'Apply'),
        h('button', { type: 'button', class: 'secondary', on: { click: () => dialog.close() } }, 'Cancel'),
      ),
    );
    const dialog = openDialog('Edit schedules', [form]);
  }

  const runAll = async () => {
    try {
      const result = await post<{
        started: { name: string; exportId: string; runId: string }[];
        notStarted: { name: string; reason: string }[];
      }>('/exports/run-all');
      const { started, notStarted } = result.body;
      replaceChildren(
        status,
        notice(
          h(
            'div',
            null,
            h(
              'p',
              null,
              `Run all: ${started.length} run${started.length === 1 ? '' : 's'} started${notStarted.length ? `, ${notStarted.length} export${notStarted.length === 1 ? '' : 's'} not started` : ''}.`,
            ),
            started.length
              ? h(
                  'ul',
                  null,
                  ...started.map((run) => h('li', null, h('a', { href: `#/exports/${run.exportId}/runs/${run.runId}` }, run.name))),
                )
              : null,
            notStarted.length ? h('ul', null, ...notStarted.map((entry) => h('li', null, `${entry.name}: ${entry.reason}`))) : null,
          ),
          'success',
        ),
      );
      await load();
    } catch (error) {
      replaceChildren(status, notice(describeError(error), 'error'));
    }
  };

  // On a phone the table is a list of cards without its header row: sorting is two selects instead.
  const sortSelect = h(
    'select',
    { id: 'mobile-sort-by' },
    ...COLUMNS.map((column) => h('option', { value: column.key, selected: column.key === state.sort }, column.label)),
  );
  const orderSelect = h(
    'select',
    { id: 'mobile-sort-order' },
    h('option', { value: 'asc', selected: state.order === 'asc' }, 'Ascending'),
    h('option', { value: 'desc', selected: state.order === 'desc' }, 'Descending'),
  );
  const mobileSort = () => {
    state.sort = sortSelect.value;
    state.order = orderSelect.value as 'asc' | 'desc';
    state.tokens = [undefined];
    state.page = 0;
    void reload();
  };
  sortSelect.addEventListener('change', mobileSort);
  orderSelect.addEventListener('change', mobileSort);

  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  searchInput.addEventListener('input', () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      state.search = searchInput.value.trim();
      state.tokens = [undefined];
      state.page = 0;
      void reload();
    }, 250);
  });
  pageSize.addEventListener('change', () => {
    state.top = Number(pageSize.value);
    state.tokens = [undefined];
    state.page = 0;
    void reload();
  });

  replaceChildren(
    main,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Exports'),
      user.isWriter
        ? h(
            'div',
            { class: 'actions' },
            h('a', { class: 'button', href: '#/exports/new' }, 'New export'),
            h('button', { type: 'button', class: 'secondary', on: { click: () => void runAll() } }, 'Run all'),
          )
        : null,
    ),
    h(
      'div',
      { class: 'toolbar' },
      h(
        'div',
        { class: 'field inline-field' },
        h('label', { for: 'export-search' }, 'Search'),
        Object.assign(searchInput, { id: 'export-search' }),
      ),
      h('div', { class: 'field inline-field' }, h('label', { for: 'page-size' }, 'Per page'), Object.assign(pageSize, { id: 'page-size' })),
      h(
        'div',
        { class: 'mobile-sort' },
        h('div', { class: 'field inline-field' }, h('label', { for: 'mobile-sort-by' }, 'Sort by'), sortSelect),
        h('div', { class: 'field inline-field' }, h('label', { for: 'mobile-sort-order' }, 'Order'), orderSelect),
      ),
      user.isWriter ? h('div', { class: 'bulk' }, bulkButton, selectionText) : null,
    ),
    status,
    tableArea,
  );
  await load();
}
