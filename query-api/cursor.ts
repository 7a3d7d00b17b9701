/**
 * Opaque pagination cursors: base64url JSON `[ns, tie]` of the sort key of the
 * last item returned (newest-first lists continue strictly after it). Decoding
 * checks everything a client could tamper with: the time must lie in the
 * accepted parameter range (query-api/params.ts) and the tie-breaker must have
 * the shape of the list's key (a trace id, or a UInt64 row hash).
 */
import { ValidationError } from '../platform/errors.js';
import { inTimeRange } from './params.js';

/** Sort key: ns since epoch and a tie-breaker string. */
export interface CursorKey {
  ns: bigint;
  tie: string;
}

/** Which list a cursor belongs to; decides the accepted tie-breaker. */
export type CursorKind = 'traces' | 'logs';

const UINT64_MAX = 18_446_744_073_709_551_615n;

const TIE_OK: Record<CursorKind, (tie: string) => boolean> = {
  traces: (tie) => /^[0-9a-fA-F]{32}$/.test(tie),
  logs: (tie) => /^\d{1,20}$/.test(tie) && BigInt(tie) <= UINT64_MAX,
};

/** Encode a sort key as an opaque base64url cursor. */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.ns.toString(), key.tie]), 'utf8').toString('base64url');
}

/**
 * Decode a cursor made by {@link encodeCursor} for the list `kind`.
 * @returns the sort key, its time within [1970, 2100] (params.ts TIME_MIN/MAX).
 * @throws ValidationError `cursor` when it is not one, belongs to another list, or names a
 *   time out of range (pass next_cursor from the previous page unchanged).
 */
export function decodeCursor(cursor: string, kind: CursorKind): CursorKey {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    v = undefined;
  }
  if (
    Array.isArray(v) &&
    v.length === 2 &&
    typeof v[0] === 'string' &&
    /^\d{1,20}$/.test(v[0]) &&
    typeof v[1] === 'string' &&
    inTimeRange(BigInt(v[0])) &&
    TIE_OK[kind](v[1])
  ) {
    return { ns: BigInt(v[0]), tie: v[1] };
  }
  throw new ValidationError('cursor', `not a valid ${kind} cursor; pass next_cursor from the previous page unchanged, or omit it for the first page`);
}
