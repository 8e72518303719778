// The audit log (admins): who created, changed, ran, disconnected or removed what, one month at a time.
import { get } from '../api.js';
import { formatTime, h, replaceChildren } from '../dom.js';
import type { PageContext } from '../pageContext.js';

interface AuditEntry {
  id: string;
  at: string;
  actor: { id: string; name: string };
  action: string;
  target: { type: string; id: string; name?: string };
  details?: Record<string, unknown>;
}

export async function renderAudit({ main }: PageContext): Promise<void> {
  const month = h('input', { type: 'month', id: 'audit-month', value: new Date().toISOString().slice(0, 7) });
  const area = h('div');
  const load = async () => {
    const entries = (await get<{ items: AuditEntry[] }>('/audit', { month: month.value || undefined, top: 200 })).body.items;
    replaceChildren(
      area,
      entries.length === 0
        ? h('p', { class: 'empty' }, 'Nothing recorded in this month.')
        : h(
            'div',
            { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Audit log table' },
            h(
              'table',
              null,
              h(
                'thead',
                null,
                h('tr', null, ...['When', 'Who', 'Action', 'What', 'Details'].map((label) => h('th', { scope: 'col' }, label))),
              ),
              h(
                'tbody',
                null,
                ...entries.map((entry) =>
                  h(
                    'tr',
                    null,
                    h('td', null, formatTime(entry.at)),
                    h('td', null, entry.actor.name),
                    h('td', null, entry.action),
                    h('td', null, `${entry.target.type} ${entry.target.name ?? entry.target.id}`),
                    h(
                      'td',
                      { class: 'details' },
                      entry.details
                        ? Object.entries(entry.details)
                            .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
                            .join('; ')
                        : '',
                    ),
                  ),
                ),
              ),
            ),
          ),
    );
  };
  month.addEventListener('change', () => void load());
  replaceChildren(
    main,
    h('h1', null, 'Audit log'),
    h('div', { class: 'toolbar' }, h('div', { class: 'field inline-field' }, h('label', { for: 'audit-month' }, 'Month'), month)),
    area,
  );
  await load();
}
