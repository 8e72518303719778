// Request limits of the hosting platform, applied by the local host so a request that Azure would
// refuse is refused here too — with an answer, not a reset connection.
import type { IncomingMessage } from 'node:http';

/**
 * Azure App Service's front ends (which Functions apps sit behind) accept at most 64 KB of request
 * headers in total and cannot be configured otherwise
 * (https://azureossd.github.io/2022/06/08/Increasing-Request-Header-sizes-on-Linux-App-Services/).
 */
export const MAX_REQUEST_HEADER_BYTES = 64 * 1024;

/**
 * How much header text Node reads before it gives up on a request. Node's default is 16 KB
 * (https://nodejs.org/api/cli.html#--max-http-header-sizesize); past it the connection is answered
 * with a bare 431 and closed while the client may still be writing, which it sees as a reset. Read
 * well past the platform's limit instead, so the host can answer such a request properly.
 */
export const NODE_MAX_HEADER_SIZE = 1024 * 1024;

/** Bytes of the request line and headers as sent (name, ": ", value, CRLF each). */
export function requestHeaderBytes(req: IncomingMessage): number {
  let total = (req.method?.length ?? 0) + (req.url?.length ?? 0) + 12;
  for (let i = 0; i < req.rawHeaders.length; i += 2)
    total += Buffer.byteLength(req.rawHeaders[i]!) + Buffer.byteLength(req.rawHeaders[i + 1] ?? '') + 4;
  return total;
}

/** Query parameters whose values are credentials or one-time codes (OAuth codes, SAS signatures, tokens). */
const SECRET_PARAMETER = /token|secret|passw(or)?d|api[-_]?key|^key$|^code$|^sig$|signature|credential|auth|session|^state$/i;

/** The query string with the values of secret-looking parameters replaced, for log lines. */
export function redactQuery(search: string): string {
  if (search === '' || search === '?') return search;
  const parts = search
    .replace(/^\?/, '')
    .split('&')
    .map((part) => {
      const at = part.indexOf('=');
      if (at < 0) return part;
      let name = part.slice(0, at);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // An undecodable name is judged as written.
      }
      return SECRET_PARAMETER.test(name) ? `${part.slice(0, at)}=[redacted]` : part;
    });
  return `?${parts.join('&')}`;
}
