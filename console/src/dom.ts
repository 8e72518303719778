// A few lines instead of a framework: build elements from a tag, attributes and children.
type Child = Node | string | number | null | undefined | false | Child[];
// A handler names the Event subtype it expects, and may be async: a rejection it leaves is the
// page's unhandled rejection, which the browser reports.
type Handler = (event: never) => unknown;
type Attributes = Record<string, unknown> & { on?: Record<string, Handler> };

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (name === 'on') {
      for (const [event, handler] of Object.entries(value as Record<string, (event: Event) => unknown>))
        element.addEventListener(event, handler);
    } else if (value === false || value === undefined || value === null) {
      continue;
    } else if (name === 'class') {
      element.className = String(value);
    } else if (name in element && typeof value !== 'string') {
      (element as unknown as Record<string, unknown>)[name] = value;
    } else if (name === 'value' || name === 'checked') {
      (element as unknown as Record<string, unknown>)[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  append(element, children);
  return element;
}

function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(typeof child === 'string' || typeof child === 'number' ? document.createTextNode(String(child)) : child);
  }
}

export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let idCounter = 0;
export function uniqueId(prefix: string): string {
  return `${prefix}-${++idCounter}`;
}

/** A labelled form control: <label for> + control (+ hint), the way every field of the console is built. */
export function field(
  label: string,
  control: HTMLElement,
  options: { hint?: string; required?: boolean; path?: string } = {},
): HTMLElement {
  const id = control.id || uniqueId('field');
  control.id = id;
  if (options.required) control.setAttribute('aria-required', 'true');
  const hintId = options.hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute('aria-describedby', hintId);
  const wrapper = h(
    'div',
    { class: 'field', 'data-path': options.path },
    h('label', { for: id }, label, options.required ? h('span', { class: 'required' }, ' (required)') : null),
    control,
    options.hint ? h('p', { class: 'hint', id: hintId }, options.hint) : null,
  );
  return wrapper;
}

export function formatTime(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatNumber(value: number | null | undefined): string {
  return value === null || value === undefined ? '—' : value.toLocaleString('en');
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Announces a message to screen readers and shows it (role=status, or alert for errors). */
export function notice(text: string | Node, kind: 'info' | 'error' | 'success' = 'info'): HTMLElement {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}
