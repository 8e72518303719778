// Problem details on a form: each error next to the field its path names (data-path on the
// field's wrapper, longest matching prefix wins), the rest in a summary at the top.
import { ApiError, describeError } from './api.js';
import { h, notice, replaceChildren } from './dom.js';

export function clearProblems(form: HTMLElement): void {
  form.querySelectorAll('.field-error').forEach((element) => element.remove());
  form.querySelectorAll('[aria-invalid]').forEach((element) => element.removeAttribute('aria-invalid'));
}

export function showProblem(form: HTMLElement, summary: HTMLElement, error: unknown): void {
  clearProblems(form);
  const errors = error instanceof ApiError ? (error.problem.errors ?? []) : [];
  const placed: string[] = [];
  const leftOver: string[] = [];
  const targets = [...form.querySelectorAll<HTMLElement>('[data-path]')].filter((element) => !element.hidden);
  for (const fieldError of errors) {
    const path = fieldError.path;
    const target = targets
      .filter((element) => {
        const own = element.dataset.path!;
        return path === own || path.startsWith(`${own}.`);
      })
      .sort((a, b) => b.dataset.path!.length - a.dataset.path!.length)[0];
    if (!target) {
      leftOver.push(`${path}: ${fieldError.message}`);
      continue;
    }
    const id = `error-${Math.random().toString(36).slice(2, 9)}`;
    target.appendChild(h('p', { class: 'field-error', id }, fieldError.message));
    const control = target.querySelector<HTMLElement>('input, select, textarea');
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
    }
    placed.push(path);
  }
  replaceChildren(
    summary,
    notice(
      h(
        'div',
        null,
        h('p', null, describeError(error)),
        leftOver.length ? h('ul', null, ...leftOver.map((text) => h('li', null, text))) : null,
      ),
      'error',
    ),
  );
  const firstInvalid = form.querySelector<HTMLElement>('[aria-invalid="true"]');
  (firstInvalid ?? summary).focus?.();
}
