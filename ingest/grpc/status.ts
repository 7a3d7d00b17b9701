/**
 * VigilError → gRPC status for OTLP/gRPC (OTLP specification, "OTLP/gRPC
 * Response" → "Failures" and "OTLP/gRPC Throttling"):
 *
 * | Vigil code | gRPC code | RetryInfo |
 * |---|---|---|
 * | VIGIL_ERR_DECODE, _VALIDATION, _BAD_REQUEST, _UNSUPPORTED_MEDIA_TYPE | INVALID_ARGUMENT (3) | — (not retryable: "Bad Data") |
 * | VIGIL_ERR_UNAUTHORIZED | UNAUTHENTICATED (16) | — |
 * | VIGIL_ERR_OVERLOADED, _AUTH_RATE_LIMITED | RESOURCE_EXHAUSTED (8) | yes: the spec retries RESOURCE_EXHAUSTED only with RetryInfo |
 * | VIGIL_ERR_PAYLOAD_TOO_LARGE | RESOURCE_EXHAUSTED (8) | — (never fits: not retried) |
 * | VIGIL_ERR_KAFKA_UNAVAILABLE, _SHUTTING_DOWN, _POSTGRES_UNAVAILABLE, _DEADLINE | UNAVAILABLE (14) | yes |
 * | VIGIL_ERR_SIGNAL_NOT_SUPPORTED | UNIMPLEMENTED (12) | — |
 * | other codes, by HTTP status | 400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 413 / 429 RESOURCE_EXHAUSTED, 503 UNAVAILABLE | as above (retryable ones only) |
 * | anything else | INTERNAL (13) | — |
 *
 * RetryInfo travels as the OTLP spec and gRPC's richer error model say: a
 * serialized `google.rpc.Status { code, message, details: [Any(google.rpc.RetryInfo
 * { retry_delay: Duration })] }` in the `grpc-status-details-bin` trailer.
 */
import { Metadata, status as GrpcStatus, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { VigilError, type VigilErrorCode } from '../../platform/errors.js';

const CODES: Partial<Record<VigilErrorCode, GrpcStatus>> = {
  VIGIL_ERR_DECODE: GrpcStatus.INVALID_ARGUMENT,
  VIGIL_ERR_VALIDATION: GrpcStatus.INVALID_ARGUMENT,
  VIGIL_ERR_BAD_REQUEST: GrpcStatus.INVALID_ARGUMENT,
  VIGIL_ERR_UNSUPPORTED_MEDIA_TYPE: GrpcStatus.INVALID_ARGUMENT,
  VIGIL_ERR_UNAUTHORIZED: GrpcStatus.UNAUTHENTICATED,
  VIGIL_ERR_OVERLOADED: GrpcStatus.RESOURCE_EXHAUSTED,
  VIGIL_ERR_AUTH_RATE_LIMITED: GrpcStatus.RESOURCE_EXHAUSTED,
  VIGIL_ERR_PAYLOAD_TOO_LARGE: GrpcStatus.RESOURCE_EXHAUSTED,
  VIGIL_ERR_KAFKA_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  VIGIL_ERR_SHUTTING_DOWN: GrpcStatus.UNAVAILABLE,
  VIGIL_ERR_POSTGRES_UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  VIGIL_ERR_DEADLINE: GrpcStatus.UNAVAILABLE,
  VIGIL_ERR_SIGNAL_NOT_SUPPORTED: GrpcStatus.UNIMPLEMENTED,
};

/** Type URL of google.rpc.RetryInfo inside a google.protobuf.Any. */
export const RETRY_INFO_TYPE_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * Encode `google.rpc.Status { code, message, details }` where details holds one
 * `google.rpc.RetryInfo { retry_delay = retryAfterSeconds s }` when given
 * (hand-written protobuf: Status 1 int32 / 2 string / 3 Any; Any 1 string / 2
 * bytes; RetryInfo 1 Duration; Duration 1 int64 seconds).
 */
export function encodeStatusDetails(code: number, message: string, retryAfterSeconds?: number): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 0).int32(code);
  w.uint32((2 << 3) | 2).string(message);
  if (retryAfterSeconds !== undefined) {
    const duration = protobuf.Writer.create().uint32((1 << 3) | 0).int64(Math.max(0, Math.ceil(retryAfterSeconds))).finish();
    const retryInfo = protobuf.Writer.create().uint32((1 << 3) | 2).bytes(duration).finish();
    const any = protobuf.Writer.create().uint32((1 << 3) | 2).string(RETRY_INFO_TYPE_URL).uint32((2 << 3) | 2).bytes(retryInfo).finish();
    w.uint32((3 << 3) | 2).bytes(any);
  }
  return Buffer.from(w.finish());
}

/** gRPC code by HTTP status, for codes without an entry in CODES (gRPC's HTTP-to-gRPC status mapping). */
const BY_HTTP_STATUS: Record<number, GrpcStatus> = {
  400: GrpcStatus.INVALID_ARGUMENT,
  401: GrpcStatus.UNAUTHENTICATED,
  403: GrpcStatus.PERMISSION_DENIED,
  413: GrpcStatus.RESOURCE_EXHAUSTED,
  429: GrpcStatus.RESOURCE_EXHAUSTED,
  503: GrpcStatus.UNAVAILABLE,
};

/** The gRPC code of a VigilError (see module doc). */
export function grpcCode(err: VigilError): GrpcStatus {
  return CODES[err.code] ?? BY_HTTP_STATUS[err.statusCode] ?? GrpcStatus.INTERNAL;
}

/**
 * The gRPC error for `err` (a VigilError; anything else is INTERNAL without
 * internals), with RetryInfo for retryable RESOURCE_EXHAUSTED / UNAVAILABLE.
 */
export function toGrpcError(err: unknown): Partial<StatusObject> & Pick<ServiceError, 'code' | 'details'> {
  const e = err instanceof VigilError ? err : new VigilError('VIGIL_ERR_INTERNAL', 'internal error while ingesting; the data was not accepted', { cause: err });
  const code = grpcCode(e);
  const retry = e.retryable && (code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.RESOURCE_EXHAUSTED) ? (e.retryAfterSeconds ?? 1) : undefined;
  const metadata = new Metadata();
  metadata.set('grpc-status-details-bin', encodeStatusDetails(code, e.message, retry));
  return { code, details: `${e.code}: ${e.message}`, metadata };
}
