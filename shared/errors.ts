/**
 * The one error taxonomy. Every error that may reach a client is an AppError with the HTTP
 * status it exposes; the API maps them to RFC 9457 problem documents in one place
 * (shared/http/problem.ts). Anything else is a bug and becomes a generic 500.
 */
export interface FieldError {
  /** Where the problem is: a dotted path into the body (`events.0`), a query parameter or a header. */
  field: string;
  detail: string;
}

export class AppError extends Error {
  readonly status: number;
  /** Short slug, published as the problem `type` (`/problems/<slug>`). */
  readonly slug: string;
  readonly title: string;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    slug: string,
    title: string,
    detail: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.slug = slug;
    this.title = title;
    this.headers = options?.headers ?? {};
  }
}

export class BadRequestError extends AppError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(400, "bad-request", "The request could not be read", detail, options);
  }
}

export class ValidationError extends AppError {
  readonly errors: FieldError[];
  constructor(errors: FieldError[], detail = summarize(errors)) {
    super(422, "validation-error", "The request is not valid", detail);
    this.errors = errors;
  }
}

export class UnauthorizedError extends AppError {
  constructor(detail: string) {
    super(401, "unauthorized", "Authentication required", detail, {
      headers: { "www-authenticate": 'Bearer realm="webhooks"' },
    });
  }
}

export class ForbiddenError extends AppError {
  constructor(detail: string) {
    super(403, "forbidden", "This key may not do that", detail);
  }
}

export class NotFoundError extends AppError {
  constructor(detail: string) {
    super(404, "not-found", "Not found", detail);
  }
}

export class MethodNotAllowedError extends AppError {
  constructor(allowed: readonly string[]) {
    super(405, "method-not-allowed", "Method not allowed", `Allowed: ${allowed.join(", ")}.`, {
      headers: { allow: allowed.join(", ") },
    });
  }
}

export class ConflictError extends AppError {
  constructor(detail: string) {
    super(409, "conflict", "Conflict", detail);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(detail: string) {
    super(413, "payload-too-large", "Payload too large", detail);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(detail: string) {
    super(415, "unsupported-media-type", "Unsupported media type", detail);
  }
}

/** A dependency (DynamoDB, SQS) failed after retries; the client should retry the request. */
export class ServiceUnavailableError extends AppError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(503, "service-unavailable", "Temporarily unavailable", detail, {
      ...options,
      headers: { "retry-after": "1" },
    });
  }
}

function summarize(errors: FieldError[]): string {
  const first = errors[0];
  if (!first) return "The request is not valid.";
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : "";
  return `${first.field}: ${first.detail}${more}`;
}
