// Connections (admins): create with the data privacy and compliance statement to accept, test,
// share with contributors, replace secrets, remove. Secrets are write-only: the API only says
// which are set, and the page never shows or keeps one.
import { get, post, request, describeError } from '../api.js';
import { field, formatTime, h, notice, replaceChildren } from '../dom.js';
import { confirmDialog, openDialog } from '../dialogs.js';
import { clearProblems, showProblem } from '../problems.js';
import type { PageContext } from '../pageContext.js';
import type { CatalogEntry, CatalogField, ConnectionView } from '../types.js';

export const PRIVACY_STATEMENT =
  "Data sent through this connection leaves the platform's compliance boundary: it is stored and processed by the destination under that vendor's terms, not this platform's. " +
  'You confirm that your organisation may send the chosen customer data to this destination, and that doing so meets your privacy and compliance obligations. Your acceptance is recorded with your name and the time.';

export async function renderConnections({ main, user }: PageContext): Promise<void> {
  const catalog = (await get<CatalogEntry[]>('/destinations')).body;
  const status = h('div', { class: 'status-area', 'aria-live': 'polite' });
  const listArea = h('div');
  const displayName = (type: string) => catalog.find((entry) => entry.type === type)?.displayName ?? type;

  const load = async () => {
    const connections = (await get<ConnectionView[]>('/connections')).body;
    replaceChildren(
      listArea,
      connections.length === 0
        ? h('p', { class: 'empty' }, 'No connections yet.')
        : h(
            'div',
            { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Connections table' },
            h(
              'table',
              { class: 'connections' },
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ...['Name', 'Type', 'Shared with', 'Secrets set', 'Export user', 'Privacy statement', 'Actions'].map((label) =>
                    h('th', { scope: 'col' }, label),
                  ),
                ),
              ),
              h(
                'tbody',
                null,
                ...connections.map((connection) =>
                  h(
                    'tr',
                    { 'data-id': connection.id },
                    h('td', null, connection.name),
                    h('td', null, displayName(connection.type)),
                    h('td', null, connection.sharing === 'contributors' ? 'Admins and contributors' : 'Admins only'),
                    h('td', null, connection.secretsSet.join(', ') || 'none'),
                    h('td', null, connection.exportUser.name),
                    h(
                      'td',
                      null,
                      `Accepted by ${connection.privacyConsent.acceptedBy}, ${formatTime(connection.privacyConsent.acceptedAt)}`,
                    ),
                    h('td', null, user.isAdmin ? actions(connection) : null),
                  ),
                ),
              ),
            ),
          ),
    );
  };
  const act = (label: string, connection: ConnectionView, action: () => Promise<unknown>) =>
    h(
      'button',
      {
        type: 'button',
        class: 'small secondary',
        'aria-label': `${label} ${connection.name}`,
        on: { click: () => action().catch((error) => replaceChildren(status, notice(describeError(error), 'error'))) },
      },
      label,
    );

  function actions(connection: ConnectionView): HTMLElement {
    return h(
      'div',
      { class: 'row-actions' },
      act('Test', connection, async () => {
        replaceChildren(status, notice(`Testing ${connection.name}…`));
        const result = (await post<{ ok: boolean; reason?: string }>(`/connections/${connection.id}/test`)).body;
        replaceChildren(
          status,
          notice(
            result.ok
              ? `${connection.name}: the destination accepted the credentials.`
              : `${connection.name}: ${result.reason ?? 'the test failed'}`,
            result.ok ? 'success' : 'error',
          ),
        );
      }),
      act(connection.sharing === 'contributors' ? 'Stop sharing' : 'Share with contributors', connection, async () => {
        await request('PATCH', `/connections/${connection.id}`, {
          body: { sharing: connection.sharing === 'contributors' ? 'adminsOnly' : 'contributors' },
          ifMatch: connection.etag,
        });
        await load();
        replaceChildren(
          status,
          notice(
            `${connection.name} is now ${connection.sharing === 'contributors' ? 'for admins only' : 'shared with contributors'}.`,
            'success',
          ),
        );
      }),
      act('Replace secrets', connection, async () => replaceSecrets(connection)),
      act('Remove', connection, async () => {
        if (
          !(await confirmDialog(
            'Remove connection',
            `Remove ${connection.name}? Its exports keep their definitions and show "No connection"; no more data flows through it.`,
            'Remove',
          ))
        )
          return;
        await request('DELETE', `/connections/${connection.id}`, { ifMatch: connection.etag });
        await load();
        replaceChildren(status, notice(`${connection.name} is removed.`, 'success'));
      }),
    );
  }

  function secretInputs(fields: CatalogField[]) {
    return fields
      .filter((spec) => spec.secret)
      .map((spec) => ({ spec, input: h('input', { type: 'password', autocomplete: 'new-password', spellcheck: false }) }));
  }

  function replaceSecrets(connection: ConnectionView): void {
    const entry = catalog.find((candidate) => candidate.type === connection.type);
    const inputs = secretInputs(entry?.connectionFields ?? []);
    const problems = h('div', { class: 'status-area' });
    const form: HTMLFormElement = h(
      'form',
      {
        on: {
          submit: async (event: SubmitEvent) => {
            event.preventDefault();
            const secrets = Object.fromEntries(
              inputs.filter(({ input }) => input.value).map(({ spec, input }) => [spec.name, input.value]),
            );
            try {
              await request('PATCH', `/connections/${connection.id}`, { body: { secrets }, ifMatch: connection.etag });
              dialog.close();
              await load();
              replaceChildren(status, notice(`The secrets of ${connection.name} are replaced.`, 'success'));
            } catch (error) {
              showProblem(form, problems, error);
            }
          },
        },
      },
      h('p', null, 'Secrets are never shown again once saved; fill in the ones to replace.'),
      problems,
      ...inputs.map(({ spec, input }) => field(spec.name, input, { hint: spec.description, path: `body.secrets.${spec.name}` })),
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit' }, 'Replace'),
        h('button', { type: 'button', class: 'secondary', on: { click: () => dialog.close() } }, 'Cancel'),
      ),
    );
    const dialog = openDialog(`Replace secrets of ${connection.name}`, [form]);
  }

  // The create form: fields follow the chosen destination's catalog entry.
  const summary = h('div', { class: 'status-area', tabindex: '-1' });
  const nameInput = h('input', { type: 'text', autocomplete: 'off' });
  const typeSelect = h('select', null, ...catalog.map((entry) => h('option', { value: entry.type }, entry.displayName)));
  const sharing = h(
    'select',
    null,
    h('option', { value: 'adminsOnly' }, 'Admins only'),
    h('option', { value: 'contributors' }, 'Admins and contributors'),
  );
  const fieldsArea = h('div');
  const consent = h('input', { type: 'checkbox', id: 'privacy-consent' });
  let readFields: () => { settings: Record<string, unknown>; secrets: Record<string, unknown> } = () => ({ settings: {}, secrets: {} });
  const renderFields = () => {
    const entry = catalog.find((candidate) => candidate.type === typeSelect.value)!;
    const settings = entry.connectionFields
      .filter((spec) => !spec.secret)
      .map((spec) => ({ spec, input: h('input', { type: 'text', autocomplete: 'off' }) }));
    const secrets = secretInputs(entry.connectionFields);
    replaceChildren(
      fieldsArea,
      ...settings.map(({ spec, input }) =>
        field(spec.name, input, { hint: spec.description, required: spec.required, path: `body.settings.${spec.name}` }),
      ),
      ...secrets.map(({ spec, input }) =>
        field(`${spec.name} (secret, write-only)`, input, {
          hint: spec.description,
          required: spec.required,
          path: `body.secrets.${spec.name}`,
        }),
      ),
    );
    readFields = () => ({
      settings: Object.fromEntries(
        settings.filter(({ input }) => input.value.trim()).map(({ spec, input }) => [spec.name, input.value.trim()]),
      ),
      secrets: Object.fromEntries(secrets.filter(({ input }) => input.value).map(({ spec, input }) => [spec.name, input.value])),
    });
  };
  typeSelect.addEventListener('change', renderFields);
  renderFields();
  const form: HTMLFormElement = h(
    'form',
    {
      class: 'connection-form',
      novalidate: true,
      on: {
        submit: async (event: SubmitEvent) => {
          event.preventDefault();
          clearProblems(form);
          replaceChildren(summary);
          const { settings, secrets } = readFields();
          const body = {
            name: nameInput.value,
            type: typeSelect.value,
            settings,
            secrets,
            sharing: sharing.value,
            ...(consent.checked ? { privacyConsent: true } : {}),
          };
          try {
            const created = (await post<ConnectionView>('/connections', body)).body;
            form.reset();
            renderFields();
            await load();
            replaceChildren(status, notice(`Connection ${created.name} created. Test it from the list.`, 'success'));
          } catch (error) {
            showProblem(form, summary, error);
          }
        },
      },
    },
    summary,
    field('Name', nameInput, { required: true, path: 'body.name' }),
    field('Destination', typeSelect, { required: true, path: 'body.type' }),
    fieldsArea,
    field('Who may use it', sharing, { path: 'body.sharing' }),
    h(
      'fieldset',
      { class: 'privacy', 'data-path': 'body.privacyConsent' },
      h('legend', null, 'Data privacy and compliance'),
      h('p', { id: 'privacy-statement' }, PRIVACY_STATEMENT),
      h(
        'label',
        { class: 'inline', for: 'privacy-consent' },
        Object.assign(consent, { 'aria-describedby': 'privacy-statement' }),
        ' I accept the data privacy and compliance statement',
      ),
    ),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create connection')),
  );
  consent.setAttribute('aria-describedby', 'privacy-statement');

  replaceChildren(
    main,
    h('h1', null, 'Connections'),
    status,
    listArea,
    user.isAdmin ? h('section', { 'aria-labelledby': 'new-connection' }, h('h2', { id: 'new-connection' }, 'New connection'), form) : null,
  );
  await load();
}
