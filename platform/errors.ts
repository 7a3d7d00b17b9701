/**
 * Vigil error classes with stable codes.
 *
 * Every error Vigil raises on purpose is a {@link VigilError} carrying a stable
 * `code` (`VIGIL_ERR_*`). Retry, DLQ and HTTP-status decisions switch on
 * `code` and `retryable`, never on message text. Each code is documented in
 * docs/errors.md; a test checks that every code in {@link ERROR_CODES} is.
 */

/** Every stable error code, with its HTTP status and whether retrying can help. */
export const ERROR_CODES = {
  VIGIL_ERR_CONFIG: { status: 500, retryable: false },
  VIGIL_ERR_UNAUTHORIZED: { status: 401, retryable: false },
  VIGIL_ERR_BAD_REQUEST: { status: 400, retryable: false },
  VIGIL_ERR_VALIDATION: { status: 400, retryable: false },
  VIGIL_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  VIGIL_ERR_PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  VIGIL_ERR_NOT_FOUND: { status: 404, retryable: false },
  VIGIL_ERR_FORBIDDEN: { status: 403, retryable: false },
  VIGIL_ERR_OVERLOADED: { status: 429, retryable: true },
  VIGIL_ERR_AUTH_RATE_LIMITED: { status: 429, retryable: true },
  VIGIL_ERR_PROJECT_RATE_LIMITED: { status: 429, retryable: true },
  VIGIL_ERR_QUERY_TOO_EXPENSIVE: { status: 400, retryable: false },
  VIGIL_ERR_KAFKA_UNAVAILABLE: { status: 503, retryable: true },
  VIGIL_ERR_CLICKHOUSE_UNAVAILABLE: { status: 503, retryable: true },
  VIGIL_ERR_CLICKHOUSE_REJECTED: { status: 500, retryable: false },
  VIGIL_ERR_CLICKHOUSE_VERSION: { status: 500, retryable: false },
  VIGIL_ERR_POSTGRES_UNAVAILABLE: { status: 503, retryable: true },
  VIGIL_ERR_MIGRATION_CHANGED: { status: 500, retryable: false },
  VIGIL_ERR_MIGRATION_FAILED: { status: 500, retryable: false },
  VIGIL_ERR_KAFKA_LOCAL: { status: 500, retryable: false },
  VIGIL_ERR_CONSUMER_GROUP_IN_USE: { status: 500, retryable: false },
  VIGIL_ERR_DECODE: { status: 400, retryable: false },
  VIGIL_ERR_SHUTTING_DOWN: { status: 503, retryable: true },
  VIGIL_ERR_DEADLINE: { status: 503, retryable: true },
  VIGIL_ERR_NOT_READY: { status: 503, retryable: true },
  VIGIL_ERR_CONFLICT: { status: 409, retryable: false },
  VIGIL_ERR_WEBHOOK_DESTINATION_REFUSED: { status: 400, retryable: false },
  VIGIL_ERR_WEBHOOK_DELIVERY: { status: 502, retryable: true },
  VIGIL_ERR_SIGNAL_NOT_SUPPORTED: { status: 404, retryable: false },
  VIGIL_ERR_INTERNAL: { status: 500, retryable: false },
} as const;

/** A stable error code. */
export type VigilErrorCode = keyof typeof ERROR_CODES;

/**
 * Base class of every Vigil error.
 * @param code stable `VIGIL_ERR_*` code; decides HTTP status and retryability.
 * @param message human sentence naming the field or condition and the fix.
 * @param options.cause the underlying error, if any.
 * @param options.retryAfterSeconds hint for 429/503 answers (`Retry-After`, seconds).
 */
export class VigilError extends Error {
  readonly code: VigilErrorCode;
  readonly statusCode: number;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: VigilErrorCode,
    message: string,
    options: { cause?: unknown; retryAfterSeconds?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VigilError';
    this.code = code;
    this.statusCode = ERROR_CODES[code].status;
    this.retryable = ERROR_CODES[code].retryable;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** 401: missing, malformed or unknown API key. */
export class UnauthorizedError extends VigilError {
  constructor(message: string) {
    super('VIGIL_ERR_UNAUTHORIZED', message);
    this.name = 'UnauthorizedError';
  }
}

/** 400: a request field is invalid; `field` names it (dotted path). */
export class ValidationError extends VigilError {
  readonly field: string;
  constructor(field: string, message: string) {
    super('VIGIL_ERR_VALIDATION', `${field}: ${message}`);
    this.name = 'ValidationError';
    this.field = field;
  }
}

/** 503: the Kafka cluster did not acknowledge; nothing was accepted. */
export class KafkaUnavailableError extends VigilError {
  constructor(message: string, cause?: unknown, retryAfterSeconds = 5) {
    super('VIGIL_ERR_KAFKA_UNAVAILABLE', message, { cause, retryAfterSeconds });
    this.name = 'KafkaUnavailableError';
  }
}

/** 429: intake is saturated (too many in-flight bytes or requests). */
export class OverloadedError extends VigilError {
  constructor(message: string, retryAfterSeconds = 1) {
    super('VIGIL_ERR_OVERLOADED', message, { retryAfterSeconds });
    this.name = 'OverloadedError';
  }
}

/** True when `err` is a VigilError whose code says retrying may succeed. */
export function isRetryable(err: unknown): boolean {
  return err instanceof VigilError && err.retryable;
}
