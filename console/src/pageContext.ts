// What the router hands a page (main.ts), apart from the router, so pages do not import it.
import type { User } from './session.js';

export interface PageContext {
  main: HTMLElement;
  user: User;
  params: Record<string, string>;
  /** Called when the page is left: stop polling, close dialogs. */
  onLeave: (cleanup: () => void) => void;
}
