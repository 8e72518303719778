// Text the engine stores for people to read later (run and chunk reasons, record messages) often
// quotes a vendor's or SDK's error message, and such a message may echo a credential. It gets the
// same redaction as a log line before it is written.
import { redactText } from './log.js';

export function redactStored(text: string): string {
  return text === '' ? text : redactText(text);
}
