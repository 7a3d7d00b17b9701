/**
 * Alerting in the embedded demo (`vigil start`): makes an alert fire and its
 * webhook arrive within a few minutes.
 *
 * - A local webhook receiver on 127.0.0.1 that verifies each message's
 *   Standard Webhooks signature (`standardwebhooks` Webhook.verify) and prints
 *   one line per alert on stdout, e.g.
 *   `alert webhook (signature verified): FIRING Demo: error burst {service=vigil-demo-shop} value 0.4123`.
 * - A webhook channel "demo receiver" pointing at it (its URL is updated at
 *   every start, the port changes).
 * - The built-in rules (alerts/builtins.ts) plus "Demo: error burst" (error
 *   rate > 25 % of a service's spans over 1 min), all notifying that channel.
 * - Error bursts: every {@link BURST_EVERY_MS} (first after
 *   {@link FIRST_BURST_MS}) this process calls the demo service's `GET /error`
 *   {@link BURST_RATE_PER_S} times a second for {@link BURST_MS}; the demo
 *   service traces those requests like any other, so the rule fires about a
 *   minute into a burst and resolves a minute or two after it.
 *
 * The dispatcher must be allowed to reach 127.0.0.1 for this
 * (platform/lifecycle.ts adds it to the allow-list when the demo runs).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { createBuiltinRules, type BuiltinRule } from '../alerts/builtins.js';
import { newWebhookSecret } from '../alerts/sender.js';
import type { Logger } from '../platform/logger.js';

export const FIRST_BURST_MS = 60_000;
export const BURST_EVERY_MS = 6 * 60_000;
export const BURST_MS = 100_000;
export const BURST_RATE_PER_S = 5;

/** The rule the demo's bursts breach. */
export const DEMO_RULE: BuiltinRule = {
  key: 'demo_error_burst',
  rule: {
    name: 'Demo: error burst',
    description: 'More than 25 % of a service’s spans failed over one minute (the demo bursts GET /error every few minutes).',
    severity: 'warning',
    annotations: { summary: '{{ $labels.service }}: {{ $value }} of spans failed over the last minute' },
    condition: { signal: 'error_rate', group_by: ['service'], window: '1m', operator: '>', threshold: 0.25, min_count: 20 },
    interval: '15s',
    evaluation_delay: '20s',
    no_data_state: 'ok',
  },
};

const CHANNEL_NAME = 'demo receiver';

export interface DemoAlerting {
  receiverUrl: string;
  /** Rules of the project after set-up. */
  rules: number;
  stop(): Promise<void>;
}

interface AlertmanagerBody {
  status?: string;
  alerts?: Array<{ status?: string; labels?: Record<string, string>; annotations?: Record<string, string>; vigil?: { value?: number | null } }>;
}

/**
 * Start the receiver, set up the channel and rules for `project`, and start the bursts.
 * @param opts.demoUrl the demo service's base URL (bursts call `${demoUrl}/error`).
 * @param opts.out where received alerts are printed (default stdout).
 */
export async function startDemoAlerting(opts: {
  pool: pg.Pool;
  project: string;
  demoUrl: string;
  log: Logger;
  out?: (line: string) => void;
  bursts?: boolean;
}): Promise<DemoAlerting> {
  const out = opts.out ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const pool = opts.pool;
  await pool.query('INSERT INTO projects (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING', [opts.project]);
  let secret = (await pool.query<{ secret: string }>('SELECT secret FROM notification_channels WHERE project_id = $1 AND name = $2', [opts.project, CHANNEL_NAME])).rows[0]?.secret;
  secret ??= newWebhookSecret();
  const webhook = new Webhook(secret);

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let msg: AlertmanagerBody;
      try {
        msg = webhook.verify(body, req.headers as Record<string, string>) as AlertmanagerBody;
      } catch (err) {
        out(`alert webhook REJECTED (signature does not verify: ${(err as Error).message})`);
        res.writeHead(401).end();
        return;
      }
      for (const a of msg.alerts ?? []) {
        const labels = Object.entries(a.labels ?? {}).filter(([k]) => k !== 'alertname' && k !== 'severity').map(([k, v]) => `${k}=${v}`).join(', ');
        const value = a.vigil?.value;
        out(`alert webhook (signature verified): ${(a.status ?? msg.status ?? '').toUpperCase()} ${a.labels?.alertname ?? ''} {${labels}}${value === undefined || value === null ? '' : ` value ${Number(value.toPrecision(4))}`}${a.annotations?.summary ? ` — ${a.annotations.summary}` : ''}`);
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`;

  const channel = await pool.query<{ id: string }>(
    `INSERT INTO notification_channels (project_id, name, type, url, secret) VALUES ($1, $2, 'webhook', $3, $4)
     ON CONFLICT (project_id, name) DO UPDATE SET url = EXCLUDED.url, enabled = true, disabled_reason = NULL, disabled_at = NULL, updated_at = now()
     RETURNING id::text`,
    [opts.project, CHANNEL_NAME, receiverUrl, secret],
  );
  const channelId = channel.rows[0]!.id;
  await createBuiltinRules(pool, opts.project, { channels: [channelId], extra: [DEMO_RULE] });
  // A fresh demo project has sent nothing yet: give the "No data" rule its window's worth of time
  // before its first evaluation, so it does not fire at the first start.
  await pool.query(
    "UPDATE alert_rules SET next_eval_at = now() + make_interval(secs => (condition->>'window_s')::double precision) WHERE project_id = $1 AND builtin = 'no_data' AND last_eval_at IS NULL",
    [opts.project],
  );
  const rules = Number((await pool.query<{ n: string }>('SELECT count(*) AS n FROM alert_rules WHERE project_id = $1', [opts.project])).rows[0]!.n);

  // Error bursts against the demo service.
  const timers: NodeJS.Timeout[] = [];
  let burstTimer: NodeJS.Timeout | undefined;
  const burst = (): void => {
    const until = Date.now() + BURST_MS;
    opts.log.info({ durationMs: BURST_MS, ratePerS: BURST_RATE_PER_S }, 'demo: error burst (GET /error) to trigger the "Demo: error burst" alert');
    burstTimer = setInterval(() => {
      if (Date.now() >= until) {
        clearInterval(burstTimer);
        burstTimer = undefined;
        return;
      }
      fetch(`${opts.demoUrl}/error`, { signal: AbortSignal.timeout(5000) }).then((r) => r.arrayBuffer(), () => undefined).catch(() => undefined);
    }, 1000 / BURST_RATE_PER_S);
    burstTimer.unref();
  };
  if (opts.bursts !== false) {
    const first = setTimeout(() => {
      burst();
      const every = setInterval(burst, BURST_EVERY_MS);
      every.unref();
      timers.push(every);
    }, FIRST_BURST_MS);
    first.unref();
    timers.push(first);
  }

  return {
    receiverUrl,
    rules,
    async stop() {
      for (const t of timers) clearTimeout(t);
      if (burstTimer !== undefined) clearInterval(burstTimer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
