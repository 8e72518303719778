// Modal dialogs with <dialog>: focus moves in, Escape closes, focus returns to the opener.
import { h } from './dom.js';

export function openDialog(
  title: string,
  body: HTMLElement[],
  options: { onClose?: () => void } = {},
): { dialog: HTMLDialogElement; close: () => void } {
  const opener = document.activeElement as HTMLElement | null;
  const headingId = `dialog-${Math.random().toString(36).slice(2, 9)}`;
  const dialog = h('dialog', { 'aria-labelledby': headingId }, h('h2', { id: headingId }, title), ...body);
  document.body.appendChild(dialog);
  const close = () => {
    if (dialog.open) dialog.close();
  };
  dialog.addEventListener('close', () => {
    dialog.remove();
    options.onClose?.();
    opener?.focus?.();
  });
  dialog.showModal();
  return { dialog, close };
}

export function confirmDialog(title: string, message: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    let answer = false;
    const { close } = openDialog(
      title,
      [
        h('p', null, message),
        h(
          'div',
          { class: 'actions' },
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              on: {
                click: () => {
                  answer = true;
                  close();
                },
              },
            },
            confirmLabel,
          ),
          h('button', { type: 'button', class: 'secondary', on: { click: () => close() } }, 'Cancel'),
        ),
      ],
      { onClose: () => resolve(answer) },
    );
  });
}
