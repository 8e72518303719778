// The console: hash routes (#/exports, #/exports/{id}/runs/{runId}, …) rendered into <main>.
import { config, signOut, startSession, takeSignedOutMessage, whenSignedOut } from './auth.js';
import { h, notice, replaceChildren } from './dom.js';
import { currentUser, type User } from './session.js';
import type { PageContext } from './pageContext.js';
import { describeError } from './api.js';
import { renderSignIn } from './pages/signIn.js';
import { renderExports } from './pages/exports.js';
import { renderExportForm } from './pages/exportForm.js';
import { renderExportDetail } from './pages/exportDetail.js';
import { renderRun } from './pages/run.js';
import { renderConnections } from './pages/connections.js';
import { renderRefreshes } from './pages/refreshes.js';
import { renderAudit } from './pages/audit.js';

type Page = (context: PageContext) => Promise<void>;

const routes: [RegExp, Page, string][] = [
  [/^#\/exports\/new$/, renderExportForm, 'exports'],
  [/^#\/exports\/(?<id>[a-z0-9-]+)\/edit$/, renderExportForm, 'exports'],
  [/^#\/exports\/(?<id>[a-z0-9-]+)\/runs\/(?<runId>[0-9a-f-]+)$/, renderRun, 'exports'],
  [/^#\/exports\/(?<id>[a-z0-9-]+)$/, renderExportDetail, 'exports'],
  [/^#\/exports$/, renderExports, 'exports'],
  [/^#\/connections$/, renderConnections, 'connections'],
  [/^#\/refreshes$/, renderRefreshes, 'refreshes'],
  [/^#\/audit$/, renderAudit, 'audit'],
];

const main = document.getElementById('main')!;
const top = document.getElementById('top')!;
let cleanups: (() => void)[] = [];
let signInMessage: string | undefined;

function renderHeader(user: User | undefined, section: string): void {
  const link = (href: string, label: string, name: string) =>
    h('li', null, h('a', { href, 'aria-current': section === name ? 'page' : undefined }, label));
  replaceChildren(
    top,
    h('a', { class: 'brand', href: '#/exports' }, 'Outflow'),
    user
      ? h(
          'nav',
          { 'aria-label': 'Main' },
          h(
            'ul',
            null,
            link('#/exports', 'Exports', 'exports'),
            user.isAdmin ? link('#/connections', 'Connections', 'connections') : null,
            link('#/refreshes', 'Refreshes', 'refreshes'),
            user.isAdmin ? link('#/audit', 'Audit log', 'audit') : null,
          ),
        )
      : null,
    user
      ? h(
          'div',
          { class: 'who' },
          h('span', { class: 'who-name' }, user.name, ' ', h('span', { class: 'badge' }, user.roles.join(', ') || 'no role')),
          config.localTokens ? h('a', { href: '#/sign-in', class: 'button secondary' }, 'Switch role') : null,
          h(
            'button',
            {
              type: 'button',
              class: 'secondary',
              on: {
                click: async () => {
                  await signOut();
                  location.hash = '#/sign-in';
                },
              },
            },
            'Sign out',
          ),
        )
      : null,
  );
}

async function route(): Promise<void> {
  for (const cleanup of cleanups) cleanup();
  cleanups = [];
  const hash = location.hash || '#/exports';
  const user = await currentUser();
  if (!user || hash === '#/sign-in') {
    renderHeader(user, 'sign-in');
    await renderSignIn(main, { message: signInMessage ?? takeSignedOutMessage(), signedIn: !!user });
    signInMessage = undefined;
    focusHeading();
    return;
  }
  const match = routes.map(([pattern, page, section]) => ({ found: pattern.exec(hash), page, section })).find((entry) => entry.found);
  if (!match) {
    location.replace('#/exports');
    return;
  }
  renderHeader(user, match.section);
  replaceChildren(main, h('p', { class: 'loading' }, 'Loading…'));
  try {
    await match.page({ main, user, params: { ...(match.found!.groups ?? {}) }, onLeave: (cleanup) => cleanups.push(cleanup) });
  } catch (error) {
    replaceChildren(main, h('h1', { tabindex: '-1' }, 'Something went wrong'), notice(describeError(error), 'error'));
  }
  focusHeading();
}

/** After a page change, keyboard and screen-reader users start at the new page's heading. */
function focusHeading(): void {
  const heading = main.querySelector<HTMLElement>('h1');
  if (heading) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
    document.title = `${heading.textContent} · Outflow console`;
  }
}

whenSignedOut(() => {
  if (location.hash !== '#/sign-in') location.hash = '#/sign-in';
});
window.addEventListener('hashchange', () => void route());

signInMessage = await startSession().catch((error) => describeError(error));
await route();
