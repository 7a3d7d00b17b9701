/**
 * Opaque pagination cursors: base64url JSON of the sort key of the last item
 * returned (newest-first lists continue strictly after it).
 */
import { ValidationError } from '../platform/errors.js';

/** Sort key: ns since epoch (decimal string) and a tie-breaker string. */
export interface CursorKey {
  ns: bigint;
  tie: string;
}

/** Encode a sort key as an opaque base64url cursor. */
export function encodeCursor(key: CursorKey): string {
  return Buffer.from(JSON.stringify([key.ns.toString(), key.tie]), 'utf8').toString('base64url');
}

/**
 * Decode a cursor made by {@link encodeCursor}.
 * @throws ValidationError `cursor` when it is not one (pass next_cursor from the previous page unchanged).
 */
export function decodeCursor(cursor: string): CursorKey {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      typeof v[0] === 'string' &&
      /^\d{1,20}$/.test(v[0]) &&
      typeof v[1] === 'string'
    ) {
      return { ns: BigInt(v[0]), tie: v[1] };
    }
  } catch {
    // fall through
  }
  throw new ValidationError('cursor', 'not a valid cursor; pass next_cursor from the previous page unchanged');
}
