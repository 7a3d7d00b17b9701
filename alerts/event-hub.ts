/**
 * Fan-out of alert transitions to live subscribers (the SSE stream), fed by
 * Postgres LISTEN/NOTIFY: every insert into alert_events fires
 * `pg_notify('vigil_alert_events', <event JSON>)` (migration 0002), whichever
 * evaluator process wrote it. One dedicated connection per hub listens,
 * opened with the first subscriber; when it breaks it is reopened after 1 s,
 * 2 s, 4 s … (at most 30 s) while anyone is subscribed.
 */
import type pg from 'pg';
import type { Logger } from '../platform/logger.js';

export const ALERT_EVENTS_CHANNEL = 'vigil_alert_events';

/** An event as announced (the alert_events row; `at` ISO-8601). */
export interface AnnouncedEvent {
  id: number;
  project_id: string;
  [k: string]: unknown;
}

export interface EventHub {
  /** Receive the project's events until the returned function is called. */
  subscribe(project: string, fn: (e: AnnouncedEvent) => void): () => void;
  /** Resolves once the listening connection is up (tests: subscribe, await ready(), then cause events). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/** Create a hub on `pool` (a connection is taken only while someone subscribes). */
export function createEventHub(pool: pg.Pool, log: Logger): EventHub {
  const subs = new Map<string, Set<(e: AnnouncedEvent) => void>>();
  let client: pg.PoolClient | undefined;
  let connecting: Promise<void> | undefined;
  let closed = false;
  let backoffMs = 1000;

  const onNotification = (msg: pg.Notification): void => {
    if (msg.channel !== ALERT_EVENTS_CHANNEL || msg.payload === undefined) return;
    let e: AnnouncedEvent;
    try {
      e = JSON.parse(msg.payload) as AnnouncedEvent;
    } catch {
      return;
    }
    for (const fn of subs.get(e.project_id) ?? []) fn(e);
  };

  const count = (): number => [...subs.values()].reduce((n, s) => n + s.size, 0);

  function connect(): Promise<void> {
    connecting ??= (async () => {
      const c = await pool.connect();
      c.on('notification', onNotification);
      c.on('error', (err) => {
        log.warn({ err }, 'alert event listener connection failed; reconnecting');
        drop(c, true);
      });
      await c.query(`LISTEN ${ALERT_EVENTS_CHANNEL}`);
      client = c;
      backoffMs = 1000;
    })().catch((err: unknown) => {
      connecting = undefined;
      log.warn({ err, retryInMs: backoffMs }, 'cannot LISTEN for alert events; retrying');
      scheduleReconnect();
      throw err;
    });
    return connecting;
  }

  function scheduleReconnect(): void {
    if (closed || count() === 0) return;
    const t = setTimeout(() => void connect().catch(() => undefined), backoffMs);
    t.unref();
    backoffMs = Math.min(30_000, backoffMs * 2);
  }

  function drop(c: pg.PoolClient, broken: boolean): void {
    if (client !== c) return;
    client = undefined;
    connecting = undefined;
    c.removeListener('notification', onNotification);
    c.release(broken);
    if (broken) scheduleReconnect();
  }

  return {
    subscribe(project, fn) {
      let set = subs.get(project);
      if (set === undefined) subs.set(project, (set = new Set()));
      set.add(fn);
      void connect().catch(() => undefined);
      return () => {
        set!.delete(fn);
        if (set!.size === 0) subs.delete(project);
        if (count() === 0 && client !== undefined) {
          const c = client;
          void c.query(`UNLISTEN ${ALERT_EVENTS_CHANNEL}`).then(
            // Someone subscribed meanwhile: listen again on the same connection.
            () => (count() === 0 ? drop(c, false) : void c.query(`LISTEN ${ALERT_EVENTS_CHANNEL}`).catch(() => drop(c, true))),
            () => drop(c, true),
          );
        }
      };
    },
    ready: () => connect(),
    async close() {
      closed = true;
      subs.clear();
      if (client !== undefined) drop(client, false);
    },
  };
}
