// The export form: connection, kind, segments (member counts, eligibility, too-large warnings from
// GET /segments?connectionId=), data matching from the destination catalog (required fields
// marked), destination details, schedule; Save or Save and run. Problem details land next to the
// field their path names.
import { ApiError, get, request } from '../api.js';
import { field, h, notice, replaceChildren, uniqueId } from '../dom.js';
import { clearProblems, showProblem } from '../problems.js';
import { scheduleEditor, type ScheduleEditor } from '../schedule.js';
import type { PageContext } from '../pageContext.js';
import type { CatalogEntry, CatalogField, ConnectionView, EntityView, ExportView, SegmentView } from '../types.js';

/** JSON with sorted keys, so two equal definitions compare equal whatever their key order. */
function stable(value: unknown): string {
  return (
    JSON.stringify(value, (_key, inner: unknown) =>
      inner && typeof inner === 'object' && !Array.isArray(inner)
        ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
        : inner,
    ) ?? 'undefined'
  );
}

export async function renderExportForm({ main, params }: PageContext): Promise<void> {
  const editing = params.id;
  const [catalog, connections, entities, existing] = await Promise.all([
    get<CatalogEntry[]>('/destinations'),
    get<ConnectionView[] | { items: ConnectionView[] }>('/connections'),
    get<EntityView[]>('/entities'),
    editing ? get<ExportView>(`/exports/${editing}`) : Promise.resolve(undefined),
  ]);
  const connectionList = Array.isArray(connections.body) ? connections.body : connections.body.items;
  const current = existing?.body;
  let etag = existing?.etag ?? current?.etag ?? null;
  const attributes = [...new Set(entities.body.flatMap((entity) => entity.attributes.map((attribute) => attribute.name)))].sort();

  const summary = h('div', { class: 'status-area', tabindex: '-1' });
  const name = h('input', { type: 'text', name: 'name', value: current?.name ?? '', autocomplete: 'off', required: true });
  const connection = h(
    'select',
    { name: 'connectionId', required: true },
    h('option', { value: '' }, connectionList.length ? 'Choose a connection' : 'No connection yet (admins create them)'),
    ...connectionList.map((c) => h('option', { value: c.id, selected: c.id === current?.connectionId }, `${c.name} (${c.type})`)),
  );
  const kind = h('select', { name: 'kind', disabled: !!editing });
  const attributeListId = uniqueId('attributes');
  const attributeList = h('datalist', { id: attributeListId }, ...attributes.map((attribute) => h('option', { value: attribute })));
  const segmentsArea = h('fieldset', { class: 'choices', 'data-path': 'body.segments' });
  const entitiesArea = h('fieldset', { class: 'choices', 'data-path': 'body.entities' });
  const mappingArea = h('fieldset', { class: 'mapping', 'data-path': 'body.mapping' });
  const detailsArea = h('fieldset', { class: 'details', 'data-path': 'body.details' });
  const schedule: ScheduleEditor = scheduleEditor(current?.schedule ?? { active: true, mode: 'systemRefresh' }, {
    nextRun: current?.nextRun,
    pathPrefix: 'body.schedule',
  });

  const chosenSegments = new Set(current?.segments ?? []);
  const chosenEntities = new Set(current?.entities ?? []);
  let mappingValue: () => Record<string, string> = () => ({});
  let detailsValue: () => Record<string, unknown> = () => ({});

  const entryOf = (): CatalogEntry | undefined => {
    const chosen = connectionList.find((c) => c.id === connection.value);
    return catalog.body.find((entry) => entry.type === (chosen?.type ?? current?.connectionType));
  };

  async function renderSegments(): Promise<void> {
    const connectionId = connection.value || undefined;
    const segments = (await get<SegmentView[]>('/segments', { connectionId })).body;
    const hintFor = (segment: SegmentView) =>
      [segment.eligible === false ? `Not eligible: ${segment.reason ?? ''}` : '', segment.warning ? `Warning: ${segment.warning}` : '']
        .filter(Boolean)
        .join(' ');
    replaceChildren(
      segmentsArea,
      h('legend', null, 'Segments'),
      connectionId ? null : h('p', { class: 'hint' }, 'Choose a connection to see which segments its destination takes.'),
      h(
        'ul',
        { class: 'plain' },
        ...segments.map((segment) => {
          const id = uniqueId('segment');
          const hint = hintFor(segment);
          const box = h('input', {
            type: 'checkbox',
            id,
            value: segment.id,
            checked: chosenSegments.has(segment.id),
            disabled: segment.eligible === false && !chosenSegments.has(segment.id),
            'aria-describedby': hint ? `${id}-hint` : undefined,
            on: {
              change: (event: Event) =>
                (event.target as HTMLInputElement).checked ? chosenSegments.add(segment.id) : chosenSegments.delete(segment.id),
            },
          });
          return h(
            'li',
            { class: segment.eligible === false ? 'ineligible' : undefined },
            box,
            ' ',
            h(
              'label',
              { for: id },
              segment.name,
              ' ',
              h('span', { class: 'muted' }, `${segment.type} · ${segment.memberCount.toLocaleString('en')} members`),
            ),
            hint ? h('p', { class: segment.warning ? 'warning' : 'hint', id: `${id}-hint` }, hint) : null,
          );
        }),
      ),
    );
  }

  function renderEntities(): void {
    replaceChildren(
      entitiesArea,
      h('legend', null, 'Entities'),
      h(
        'ul',
        { class: 'plain' },
        ...entities.body.map((entity) => {
          const id = uniqueId('entity');
          return h(
            'li',
            null,
            h('input', {
              type: 'checkbox',
              id,
              value: entity.name,
              checked: chosenEntities.has(entity.name),
              on: {
                change: (event: Event) =>
                  (event.target as HTMLInputElement).checked ? chosenEntities.add(entity.name) : chosenEntities.delete(entity.name),
              },
            }),
            ' ',
            h('label', { for: id }, entity.name, ' ', h('span', { class: 'muted' }, `${entity.attributes.length} attributes`)),
          );
        }),
      ),
    );
  }

  function renderMapping(entry: CatalogEntry | undefined): void {
    const mapping = { ...(current?.mapping ?? {}) };
    if (!entry) {
      replaceChildren(mappingArea, h('legend', null, 'Data matching'), h('p', { class: 'hint' }, 'Choose a connection first.'));
      mappingValue = () => mapping;
      return;
    }
    if (entry.exportKinds.includes('dataOut')) {
      // File destinations take any column names: rows of column → attribute.
      const rows = h('ul', { class: 'plain mapping-rows' });
      const addRow = (column = '', attribute = '') => {
        const columnInput = h('input', { type: 'text', value: column, 'aria-label': 'Output column', autocomplete: 'off' });
        const attributeInput = h('input', {
          type: 'text',
          value: attribute,
          'aria-label': 'Source attribute',
          list: attributeListId,
          autocomplete: 'off',
        });
        const row: HTMLElement = h(
          'li',
          { class: 'mapping-row' },
          columnInput,
          h('span', { 'aria-hidden': 'true' }, ' ← '),
          attributeInput,
          h(
            'button',
            { type: 'button', class: 'small secondary', 'aria-label': 'Remove this column', on: { click: () => row.remove() } },
            'Remove',
          ),
        );
        rows.appendChild(row);
      };
      for (const [column, attribute] of Object.entries(mapping)) addRow(column, attribute);
      replaceChildren(
        mappingArea,
        h('legend', null, 'Data matching (output column ← source attribute)'),
        h('p', { class: 'hint' }, 'Leave empty to write every attribute under its own name.'),
        rows,
        h('button', { type: 'button', class: 'small secondary', on: { click: () => addRow() } }, 'Add a column'),
      );
      mappingValue = () =>
        Object.fromEntries(
          [...rows.querySelectorAll('li')]
            .map((row) => [...row.querySelectorAll('input')].map((input) => input.value.trim()))
            .filter(([column, attribute]) => column && attribute) as [string, string][],
        );
      return;
    }
    const inputs = entry.dataMatching.map((target) => {
      const input = h('input', {
        type: 'text',
        name: `mapping.${target.name}`,
        value: mapping[target.name] ?? '',
        list: attributeListId,
        autocomplete: 'off',
        required: target.required,
      });
      return { target, input };
    });
    replaceChildren(
      mappingArea,
      h('legend', null, `Data matching for ${entry.displayName}`),
      h('p', { class: 'hint' }, 'The source attribute sent in each destination field.'),
      ...inputs.map(({ target, input }) =>
        field(target.label, input, { required: target.required, hint: target.description, path: `body.mapping.${target.name}` }),
      ),
    );
    mappingValue = () =>
      Object.fromEntries(inputs.filter(({ input }) => input.value.trim()).map(({ target, input }) => [target.name, input.value.trim()]));
  }

  function detailControl(spec: CatalogField, value: unknown): { element: HTMLElement; read(): unknown } {
    const path = `body.details.${spec.name}`;
    if (spec.type === 'boolean') {
      const box = h('input', { type: 'checkbox', checked: value === true });
      return {
        element: h(
          'div',
          { class: 'field', 'data-path': path },
          h('label', { class: 'inline' }, box, ' ', spec.name),
          spec.description ? h('p', { class: 'hint' }, spec.description) : null,
        ),
        read: () => box.checked,
      };
    }
    if (spec.type === 'object') {
      const area = h('textarea', { rows: 2, spellcheck: false }, value === undefined ? '' : JSON.stringify(value));
      return {
        element: field(`${spec.name} (JSON)`, area, { hint: spec.description, required: spec.required, path }),
        read: () => {
          const text = area.value.trim();
          if (!text) return undefined;
          try {
            return JSON.parse(text) as unknown;
          } catch {
            return text;
          }
        },
      };
    }
    const input = h('input', {
      type: spec.type === 'number' || spec.type === 'integer' ? 'number' : 'text',
      value: value === undefined ? '' : String(value),
      autocomplete: 'off',
      required: spec.required,
    });
    return {
      element: field(spec.name, input, { hint: spec.description, required: spec.required, path }),
      read: () => {
        const text = input.value.trim();
        if (!text) return undefined;
        return spec.type === 'number' || spec.type === 'integer' ? Number(text) : text;
      },
    };
  }

  function renderDetails(entry: CatalogEntry | undefined): void {
    if (!entry) {
      replaceChildren(detailsArea, h('legend', null, 'Destination details'), h('p', { class: 'hint' }, 'Choose a connection first.'));
      detailsValue = () => ({ ...(current?.details ?? {}) });
      return;
    }
    const controls = entry.exportDetails.map((spec) => ({ spec, control: detailControl(spec, current?.details?.[spec.name]) }));
    replaceChildren(detailsArea, h('legend', null, `${entry.displayName} details`), ...controls.map(({ control }) => control.element));
    detailsValue = () =>
      Object.fromEntries(
        controls.map(({ spec, control }): [string, unknown] => [spec.name, control.read()]).filter(([, value]) => value !== undefined),
      );
  }

  function renderKind(entry: CatalogEntry | undefined): void {
    const kinds = entry?.exportKinds ?? ['segment'];
    const chosen = current?.kind ?? kind.value ?? 'segment';
    replaceChildren(
      kind,
      ...kinds.map((value) =>
        h('option', { value, selected: value === chosen }, value === 'dataOut' ? 'Data out: entities as CDM folders' : 'Segments'),
      ),
    );
    entitiesArea.hidden = kind.value !== 'dataOut';
  }

  const refreshForConnection = async () => {
    const entry = entryOf();
    renderKind(entry);
    renderEntities();
    renderMapping(entry);
    renderDetails(entry);
    await renderSegments();
  };
  connection.addEventListener('change', () => void refreshForConnection());
  kind.addEventListener('change', () => {
    entitiesArea.hidden = kind.value !== 'dataOut';
  });

  const save = async (run: boolean) => {
    clearProblems(form);
    replaceChildren(summary);
    const body: Record<string, unknown> = {
      name: name.value,
      connectionId: connection.value,
      segments: [...chosenSegments],
      mapping: mappingValue(),
      details: detailsValue(),
      schedule: schedule.value(),
    };
    if (kind.value === 'dataOut') body.entities = [...chosenEntities];
    if (!editing) body.kind = kind.value || 'segment';
    try {
      const saved = editing
        ? await saveChanges(body, run)
        : await request<ExportView>('POST', '/exports', { body, query: { run: run ? 'true' : undefined } });
      location.hash = saved.body.runId ? `#/exports/${saved.body.id}/runs/${saved.body.runId}` : `#/exports/${saved.body.id}`;
    } catch (error) {
      showProblem(form, summary, error);
    }
  };

  /**
   * An edit sends only the fields the user changed, with the ETag read when the form opened. A run
   * also writes the export (its active run, last refresh), so on 412 the latest version is read:
   * if nobody changed what this edit changes, it is sent again with the new ETag; otherwise the
   * 412 stands and the user reloads.
   */
  async function saveChanges(body: Record<string, unknown>, run: boolean) {
    const changed = Object.fromEntries(
      Object.entries(body).filter(([key, value]) => stable(value) !== stable((current as unknown as Record<string, unknown>)[key])),
    );
    const send = (ifMatch: string | null) =>
      request<ExportView>('PATCH', `/exports/${editing}`, { body: changed, ifMatch, query: { run: run ? 'true' : undefined } });
    try {
      return await send(etag);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 412) throw error;
      const latest = await get<ExportView>(`/exports/${editing}`);
      const conflict = Object.keys(changed).some(
        (key) =>
          stable((latest.body as unknown as Record<string, unknown>)[key]) !== stable((current as unknown as Record<string, unknown>)[key]),
      );
      if (conflict)
        throw new ApiError({
          ...error.problem,
          detail:
            'Someone else changed this export while you were editing it. Reload the page to see their changes, then make yours again.',
        });
      etag = latest.etag ?? latest.body.etag;
      return send(etag);
    }
  }

  const form: HTMLFormElement = h(
    'form',
    {
      class: 'export-form',
      novalidate: true,
      on: {
        submit: (event: SubmitEvent) => {
          event.preventDefault();
          void save((event.submitter as HTMLButtonElement | null)?.value === 'run');
        },
      },
    },
    summary,
    field('Name', name, { required: true, path: 'body.name' }),
    field('Connection', connection, { required: true, path: 'body.connectionId' }),
    field('Kind', kind, { path: 'body.kind', hint: editing ? 'The kind of an export does not change.' : undefined }),
    segmentsArea,
    entitiesArea,
    mappingArea,
    detailsArea,
    schedule.element,
    attributeList,
    h(
      'div',
      { class: 'actions form-actions' },
      h('button', { type: 'submit', value: 'save' }, 'Save'),
      h('button', { type: 'submit', value: 'run', class: 'secondary' }, 'Save and run'),
      h('a', { class: 'button secondary', href: editing ? `#/exports/${editing}` : '#/exports' }, 'Cancel'),
    ),
  );
  replaceChildren(
    main,
    h(
      'p',
      { class: 'crumbs' },
      h('a', { href: '#/exports' }, 'Exports'),
      ' / ',
      current ? h('a', { href: `#/exports/${current.id}` }, current.name) : 'New',
    ),
    h('h1', null, current ? `Edit ${current.name}` : 'New export'),
    connectionList.length ? null : notice('There is no connection you may use yet: an admin creates one under Connections.', 'info'),
    form,
  );
  await refreshForConnection();
}
