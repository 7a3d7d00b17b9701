/**
 * Overview: per service request rate, error rate and p99 (sparklines over
 * the range), LLM spend today and this month with a run-rate projection,
 * firing alerts.
 */
import { useMemo } from 'preact/hooks';
import { get, type AlertView, type CostPoint, type LatencyPoint, type SeriesAnswer } from '../api';
import { Chart, alignSeries } from '../components/Chart';
import { Empty, ErrorBox, Link, Loading, Stat, Time, useAsync, useRange } from '../components/common';
import { fmtDuration, fmtNum, fmtPct, fmtUsd } from '../format';
import { stepFor } from '../time';
import { seriesName, type AnomalyPoint } from './Anomalies';

interface ServiceRow {
  service: string;
  requests: number;
  errors: number;
  x: number[];
  rate: Array<number | null>;
  errRate: Array<number | null>;
  p99: Array<number | null>;
  lastP99: number | null;
}

function summarise(ans: SeriesAnswer<LatencyPoint>): ServiceRow[] {
  const fromS = Date.parse(ans.from) / 1000;
  const toS = Date.parse(ans.to) / 1000;
  const perMin = ans.step / 60;
  const counts = alignSeries(ans.points, fromS, toS, ans.step, (p) => p.count / perMin, 0);
  const errs = alignSeries(ans.points, fromS, toS, ans.step, (p) => (p.count > 0 ? p.error_count / p.count : null));
  const p99 = alignSeries(ans.points, fromS, toS, ans.step, (p) => p.p99_ms);
  const rows = new Map<string, ServiceRow>();
  for (const p of ans.points) {
    const g = p.group ?? '';
    let r = rows.get(g);
    if (r === undefined) {
      r = { service: g, requests: 0, errors: 0, x: counts.x, rate: counts.groups.get(g)!, errRate: errs.groups.get(g)!, p99: p99.groups.get(g)!, lastP99: null };
      rows.set(g, r);
    }
    r.requests += p.count;
    r.errors += p.error_count;
    if (p.p99_ms !== null) r.lastP99 = p.p99_ms;
  }
  return [...rows.values()].sort((a, b) => b.requests - a.requests);
}

/** Start of the local day and month when the zone is a whole number of hours from UTC, else UTC's. */
function periodStarts(now: number): { day: number; month: number; monthEnd: number; zone: 'local' | 'UTC' } {
  const d = new Date(now);
  if (d.getTimezoneOffset() % 60 === 0) {
    return {
      day: new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime(),
      month: new Date(d.getFullYear(), d.getMonth(), 1).getTime(),
      monthEnd: new Date(d.getFullYear(), d.getMonth() + 1, 1).getTime(),
      zone: 'local',
    };
  }
  return {
    day: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()),
    month: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
    monthEnd: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
    zone: 'UTC',
  };
}

function sumCost(points: CostPoint[]): { usd: number; unpriced: number; spans: number } {
  let usd = 0;
  let unpriced = 0;
  let spans = 0;
  for (const p of points) {
    usd += p.cost_usd ?? 0;
    unpriced += p.unpriced_spans;
    spans += p.spans;
  }
  return { usd, unpriced, spans };
}

export function Overview({ features }: { features: Set<string> | undefined }) {
  const { range, tick } = useRange();
  const step = stepFor(range.fromMs, range.toMs, 60);
  const latency = useAsync(
    (signal) => get<SeriesAnswer<LatencyPoint>>('/api/v1/metrics/latency', { from: range.fromMs, to: range.toMs, step, group_by: 'service' }, signal),
    [range.fromMs, range.toMs, step],
  );
  const rows = useMemo(() => (latency.data ? summarise(latency.data) : []), [latency.data]);

  const spend = useAsync(
    async (signal) => {
      const now = range.toMs;
      const p = periodStarts(now);
      const [today, month] = await Promise.all([
        get<SeriesAnswer<CostPoint>>('/api/v1/metrics/cost', { from: p.day, to: now, step: 3600 }, signal),
        get<SeriesAnswer<CostPoint>>('/api/v1/metrics/cost', { from: p.month, to: now, step: 3600 }, signal),
      ]);
      const m = sumCost(month.points);
      const elapsed = Math.max(now - p.month, 1);
      // The API's forecast (UTC month, 95 % interval) when this Vigil serves it; else the run rate.
      let forecast: { projected: number; lower: number; upper: number; method: string } | undefined;
      if (features?.has('/api/v1/cost/forecast')) {
        const f = await get<{ total: { projected_usd: number; lower_usd: number; upper_usd: number; method: string } }>('/api/v1/cost/forecast', { period: 'month' }, signal);
        forecast = { projected: f.total.projected_usd, lower: f.total.lower_usd, upper: f.total.upper_usd, method: f.total.method };
      }
      return { p, now, today: sumCost(today.points), month: m, projected: (m.usd * (p.monthEnd - p.month)) / elapsed, forecast };
    },
    [range.toMs, features],
  );

  const hasAlerts = features?.has('/api/v1/alerts') ?? false;
  const alerts = useAsync(
    (signal) => (hasAlerts ? get<{ alerts: AlertView[] }>('/api/v1/alerts', { state: 'firing' }, signal) : Promise.resolve({ alerts: [] })),
    [hasAlerts, tick],
  );

  const hasAnomalies = features?.has('/api/v1/anomalies') ?? false;
  const anomalies = useAsync(
    async (signal) => {
      if (!hasAnomalies) return [];
      const r = await get<{ points: AnomalyPoint[] }>('/api/v1/anomalies', { from: range.fromMs, to: range.toMs, min_score: '0.9', limit: 1000 }, signal);
      // The highest score of each series and signal.
      const best = new Map<string, AnomalyPoint>();
      for (const p of r.points) {
        const k = `${seriesName(p)}|${p.signal}`;
        const b = best.get(k);
        if (b === undefined || p.score > b.score) best.set(k, p);
      }
      return [...best.values()].sort((a, b) => b.score - a.score).slice(0, 5);
    },
    [hasAnomalies, range.fromMs, range.toMs],
  );

  return (
    <section class="page overview" data-testid="overview" data-from={range.fromMs} data-to={range.toMs} data-step={step}>
      <h1>Overview</h1>
      <div class="cards">
        <div class="card spend" aria-labelledby="spend-h">
          <h2 id="spend-h">LLM spend</h2>
          <ErrorBox error={spend.error} />
          <Loading when={spend.loading && spend.data === undefined} />
          {spend.data && (
            <div class="stats" data-testid="spend" data-day-from={spend.data.p.day} data-month-from={spend.data.p.month} data-to={spend.data.now}>
              <Stat label={`Today (${spend.data.p.zone})`} value={<span data-value={spend.data.today.usd}>{fmtUsd(spend.data.today.usd)}</span>} testId="spend-today" />
              <Stat label="This month" value={<span data-value={spend.data.month.usd}>{fmtUsd(spend.data.month.usd)}</span>} testId="spend-month" />
              {spend.data.forecast ? (
                <Stat
                  label={`Month forecast (${spend.data.forecast.method})`}
                  value={fmtUsd(spend.data.forecast.projected)}
                  title={`95 % interval ${fmtUsd(spend.data.forecast.lower)} – ${fmtUsd(spend.data.forecast.upper)} (UTC month, from the daily history)`}
                  testId="spend-forecast"
                />
              ) : (
                <Stat
                  label="Month projected (run rate)"
                  value={fmtUsd(spend.data.projected)}
                  title="Month-to-date spend divided by the elapsed part of the month"
                  testId="spend-forecast"
                />
              )}
              <Stat
                label="Unpriced LLM spans this month"
                value={<span data-value={spend.data.month.unpriced}>{fmtNum(spend.data.month.unpriced)}</span>}
                title="Spans whose model has no known price: not included in the amounts"
                testId="spend-unpriced"
              />
            </div>
          )}
        </div>
        {hasAlerts && (
          <div class="card alerts-card">
            <h2>
              Firing alerts <Link href="/ui/alerts">all alerts</Link>
            </h2>
            <ErrorBox error={alerts.error} />
            {alerts.data && alerts.data.alerts.length === 0 && <Empty>Nothing is firing.</Empty>}
            {alerts.data && alerts.data.alerts.length > 0 && (
              <ul class="alert-list" data-testid="firing-alerts">
                {alerts.data.alerts.map((a) => (
                  <li key={a.id}>
                    <span class={`sev sev-${a.severity}`}>{a.severity}</span> <b>{a.rule_name}</b>{' '}
                    <span class="labels">
                      {Object.entries(a.labels)
                        .filter(([k]) => k !== 'alertname' && k !== 'severity')
                        .map(([k, v]) => `${k}=${v}`)
                        .join(' ')}
                    </span>{' '}
                    value {a.value === null ? '—' : fmtNum(a.value, 4)} · since {a.firing_at ? <Time ms={Date.parse(a.firing_at)} /> : '—'}
                    {a.acknowledged_at && <span class="tag">acknowledged</span>}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        {hasAnomalies && (
          <div class="card">
            <h2>
              Top anomalies <Link href={`/ui/anomalies?from=${range.fromMs}&to=${range.toMs}`}>all anomalies</Link>
            </h2>
            <ErrorBox error={anomalies.error} />
            {anomalies.data && anomalies.data.length === 0 && <Empty>No series scored 0.9 or more in this range.</Empty>}
            {anomalies.data && anomalies.data.length > 0 && (
              <ul class="alert-list" data-testid="top-anomalies">
                {anomalies.data.map((p) => (
                  <li key={`${seriesName(p)}|${p.signal}`}>
                    <b>{fmtNum(p.score, 3)}</b> {seriesName(p)} · {p.signal}: {fmtNum(p.observed, 4)} (expected {fmtNum(p.expected, 4)}) at <Time ms={Date.parse(p.t)} />
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
      </div>

      <h2>Services</h2>
      <ErrorBox error={latency.error} />
      <Loading when={latency.loading && latency.data === undefined} />
      {latency.data && rows.length === 0 && <Empty>No spans in this range. Send traces to the OTLP endpoint, or pick a longer range.</Empty>}
      {rows.length > 0 && (
        <table class="grid services" data-testid="services">
          <thead>
            <tr>
              <th scope="col">Service</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col">Request rate (/min)</th>
              <th scope="col" class="num">
                Error rate
              </th>
              <th scope="col">Errors over time</th>
              <th scope="col" class="num">
                p99 (latest bucket)
              </th>
              <th scope="col">p99 over time</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr key={r.service} data-service={r.service}>
                <th scope="row">
                  <Link href={`/ui/traces?service=${encodeURIComponent(r.service)}&from=${range.fromMs}&to=${range.toMs}`}>{r.service || '(none)'}</Link>
                </th>
                <td class="num" data-testid="svc-requests" data-value={r.requests}>
                  {fmtNum(r.requests)}
                </td>
                <td>
                  <Chart spark x={r.x} series={[{ label: 'requests/min', values: r.rate, color: '#0072B2' }]} height={32} label={`request rate of ${r.service}`} />
                </td>
                <td class="num" data-testid="svc-error-rate" data-value={r.requests > 0 ? r.errors / r.requests : 0}>
                  {fmtPct(r.requests > 0 ? r.errors / r.requests : 0)}
                  {r.errors > 0 && <span class="err-mark" title={`${r.errors} errors`}> ⚠</span>}
                </td>
                <td>
                  <Chart spark x={r.x} series={[{ label: 'error rate', values: r.errRate, color: '#D55E00' }]} height={32} label={`error rate of ${r.service}`} />
                </td>
                <td class="num" data-testid="svc-p99" data-value={r.lastP99 ?? ''}>
                  {fmtDuration(r.lastP99)}
                </td>
                <td>
                  <Chart spark x={r.x} series={[{ label: 'p99', values: r.p99, color: '#CC79A7' }]} height={32} label={`p99 latency of ${r.service}`} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
