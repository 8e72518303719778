// Refreshes: the platform's refresh processes as the upstream reported them, newest first.
import { get } from '../api.js';
import { formatTime, h, replaceChildren } from '../dom.js';
import type { PageContext } from '../pageContext.js';

interface RefreshView {
  id: string;
  process: string;
  status: string;
  entities: string[];
  segments: string[];
  reason?: string;
  reportedBy: { name: string };
  startedAt: string;
  finishedAt: string | null;
  abandoned: boolean;
}

export async function renderRefreshes({ main }: PageContext): Promise<void> {
  const tokens: (string | undefined)[] = [undefined];
  let page = 0;
  const statusFilter = h(
    'select',
    { id: 'refresh-status' },
    ...['', 'running', 'succeeded', 'failed'].map((value) => h('option', { value }, value || 'Any status')),
  );
  const area = h('div');
  const load = async () => {
    const result = (
      await get<{ items: RefreshView[]; continuationToken?: string }>('/refreshes', {
        status: statusFilter.value || undefined,
        top: 50,
        continuationToken: tokens[page],
      })
    ).body;
    replaceChildren(
      area,
      result.items.length === 0
        ? h('p', { class: 'empty' }, 'No refreshes reported yet.')
        : h(
            'div',
            { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Refreshes table' },
            h(
              'table',
              null,
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ...['Process', 'Status', 'Segments', 'Entities', 'Reported by', 'Started', 'Finished', 'Reason'].map((label) =>
                    h('th', { scope: 'col' }, label),
                  ),
                ),
              ),
              h(
                'tbody',
                null,
                ...result.items.map((refresh) =>
                  h(
                    'tr',
                    null,
                    h('td', null, refresh.process),
                    h(
                      'td',
                      null,
                      h(
                        'span',
                        { class: `status status-${refresh.status}` },
                        refresh.abandoned ? `${refresh.status} (abandoned)` : refresh.status,
                      ),
                    ),
                    h('td', null, refresh.segments.join(', ') || 'all'),
                    h('td', null, refresh.entities.join(', ') || 'all'),
                    h('td', null, refresh.reportedBy.name),
                    h('td', null, formatTime(refresh.startedAt)),
                    h('td', null, formatTime(refresh.finishedAt)),
                    h('td', null, refresh.reason ?? ''),
                  ),
                ),
              ),
            ),
          ),
      h(
        'nav',
        { class: 'pager', 'aria-label': 'Pages' },
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            disabled: page === 0,
            on: {
              click: () => {
                page--;
                void load();
              },
            },
          },
          'Previous page',
        ),
        h('span', null, `Page ${page + 1}`),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            disabled: !result.continuationToken,
            on: {
              click: () => {
                tokens[page + 1] = result.continuationToken;
                page++;
                void load();
              },
            },
          },
          'Next page',
        ),
      ),
    );
  };
  statusFilter.addEventListener('change', () => {
    tokens.length = 1;
    page = 0;
    void load();
  });
  replaceChildren(
    main,
    h('h1', null, 'Refreshes'),
    h('p', null, 'Exports on the system-refresh schedule start when a refresh of their segments or entities succeeds.'),
    h(
      'div',
      { class: 'toolbar' },
      h('div', { class: 'field inline-field' }, h('label', { for: 'refresh-status' }, 'Status'), statusFilter),
    ),
    area,
  );
  await load();
}
