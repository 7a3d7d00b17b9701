/**
 * Where the worker's encoded Native blocks of one table go
 * (processors/worker.ts): kept in memory, or appended to a spool file that
 * the caller inserts from and removes (BatchOptions.spoolDir).
 */
import fs from 'node:fs';
import path from 'node:path';
import { threadId } from 'node:worker_threads';
import type { InsertBody } from '../platform/clickhouse.js';

/** Native bytes of a body's blocks: one block as is, several as a stream. */
function nativeBody(blocks: Uint8Array[], columns: readonly string[]): InsertBody {
  return { format: 'Native', data: blocks.length === 1 ? blocks[0]! : blocks, columns };
}

let spooled = 0;

/** Where one table's blocks go: kept in memory, or appended to a spool file (see BatchOptions.spoolDir). */
export class BlockSink {
  private readonly blocks: Uint8Array[] = [];
  private fd: number | undefined;
  private file: string | undefined;
  private bytes = 0;

  constructor(private readonly table: string, private readonly columns: readonly string[], private readonly dir: string | undefined) {}

  /** Add one encoded block (a view of the encoder's buffer: copied or written out here). */
  add(block: Uint8Array): void {
    if (this.dir === undefined) {
      // An exact copy: a view is cloned to the main thread with its whole (larger) buffer.
      this.blocks.push(new Uint8Array(block));
      return;
    }
    if (this.fd === undefined) {
      this.file = path.join(this.dir, `${process.pid}-${threadId}-${++spooled}-${this.table}.native`);
      this.fd = fs.openSync(this.file, 'w');
    }
    for (let off = 0; off < block.length;) off += fs.writeSync(this.fd, block, off);
    this.bytes += block.length;
  }

  /** The body (closes the file). */
  finish(): InsertBody {
    if (this.fd === undefined) return nativeBody(this.blocks, this.columns);
    fs.closeSync(this.fd);
    this.fd = undefined;
    return { format: 'NativeFiles', paths: [this.file!], columns: this.columns, bytes: this.bytes };
  }

  /** Close and remove the file, if any (the batch is encoded another way or failed). */
  discard(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
    if (this.file !== undefined) fs.rmSync(this.file, { force: true });
  }
}

