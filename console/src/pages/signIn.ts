// Sign in: with Microsoft (Entra ID) where configured; locally, by pasting a development token,
// which is also how to switch role (npm run -s token -- --role viewer --sub victor).
import { config, signInWithMicrosoft, useToken } from '../auth.js';
import { field, h, notice, replaceChildren } from '../dom.js';
import { describeError } from '../api.js';

export async function renderSignIn(main: HTMLElement, options: { message?: string; signedIn: boolean }): Promise<void> {
  const status = h('div', { class: 'status-area' }, options.message ? notice(options.message, 'error') : null);
  const sections: HTMLElement[] = [];
  if (config.entra) {
    sections.push(
      h(
        'section',
        { 'aria-labelledby': 'entra-heading' },
        h('h2', { id: 'entra-heading' }, 'Your organisation'),
        h(
          'button',
          {
            type: 'button',
            on: { click: () => signInWithMicrosoft().catch((error) => replaceChildren(status, notice(describeError(error), 'error'))) },
          },
          'Sign in with Microsoft',
        ),
      ),
    );
  }
  if (config.localTokens) {
    const tokenInput = h('textarea', { name: 'token', rows: 4, autocomplete: 'off', spellcheck: false });
    const form = h(
      'form',
      {
        on: {
          submit: (event: SubmitEvent) => {
            event.preventDefault();
            try {
              useToken(tokenInput.value);
              tokenInput.value = '';
              location.hash = '#/exports';
            } catch (error) {
              replaceChildren(status, notice(describeError(error), 'error'));
              tokenInput.focus();
            }
          },
        },
      },
      field('Development token', tokenInput, {
        hint: 'Make one with: npm run -s token -- --role viewer --sub victor (roles: admin, contributor, viewer).',
      }),
      h('button', { type: 'submit' }, options.signedIn ? 'Switch to this token' : 'Sign in'),
    );
    sections.push(
      h(
        'section',
        { 'aria-labelledby': 'token-heading' },
        h('h2', { id: 'token-heading' }, 'Local stack'),
        h(
          'p',
          null,
          'npm start prints a console link that signs you in as the admin once. To sign in again, or as another role, paste a token.',
        ),
        form,
      ),
    );
  }
  if (sections.length === 0)
    sections.push(
      notice(
        'No sign-in is configured for this app: set CONSOLE_AUTH_CLIENT_ID, CONSOLE_AUTH_TENANT_ID and CONSOLE_AUTH_API_SCOPE.',
        'error',
      ),
    );
  replaceChildren(
    main,
    h('div', { class: 'narrow' }, h('h1', null, options.signedIn ? 'Switch role' : 'Sign in to Outflow'), status, ...sections),
  );
}
