// Domain errors: thrown by the domain, mapped to RFC 9457 problem details only at the HTTP edge.

export interface FieldError {
  path: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly status: number;
  abstract readonly title: string;
  /** Extra members for the problem body (e.g. the id of the run that blocks a new one). */
  readonly extensions: Record<string, unknown>;

  constructor(detail: string, extensions: Record<string, unknown> = {}) {
    super(detail);
    this.name = new.target.name;
    this.extensions = extensions;
  }

  /** Problem type URI: stable, one per error kind. */
  get type(): string {
    return `https://outflow.dev/problems/${this.title.toLowerCase().replace(/[^a-z]+/g, '-')}`;
  }
}

export class BadRequest extends DomainError {
  readonly status = 400;
  readonly title = 'Bad request';
}

export class ValidationFailed extends DomainError {
  readonly status = 400;
  readonly title = 'Validation failed';
  constructor(
    detail: string,
    readonly errors: FieldError[],
  ) {
    super(detail, { errors });
  }
}

export class Unauthorized extends DomainError {
  readonly status = 401;
  readonly title = 'Unauthorized';
}

export class Forbidden extends DomainError {
  readonly status = 403;
  readonly title = 'Forbidden';
}

export class NotFound extends DomainError {
  readonly status = 404;
  readonly title = 'Not found';
}

export class Conflict extends DomainError {
  readonly status = 409;
  readonly title = 'Conflict';
}

export class PreconditionFailed extends DomainError {
  readonly status = 412;
  readonly title = 'Precondition failed';
}

export class PayloadTooLarge extends DomainError {
  readonly status = 413;
  readonly title = 'Payload too large';
}

export class UnsupportedMediaType extends DomainError {
  readonly status = 415;
  readonly title = 'Unsupported media type';
}

/** A segment or mapping the chosen destination cannot take. */
export class NotEligible extends DomainError {
  readonly status = 422;
  readonly title = 'Not eligible';
}

export class Unprocessable extends DomainError {
  readonly status = 422;
  readonly title = 'Unprocessable';
}

/** A dependency (Key Vault, storage, a vendor) is not reachable right now; the caller may retry. */
export class ServiceUnavailable extends DomainError {
  readonly status = 503;
  readonly title = 'Service unavailable';
}
