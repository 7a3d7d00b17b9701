/**
 * Anomalies (GET /api/v1/anomalies): scored points of every series (service ×
 * operation or model) and signal, filtered by service, signal and minimum
 * score; a selected series is drawn with its expected value, band and score.
 */
import { useMemo } from 'preact/hooks';
import { get } from '../api';
import { Chart, type ChartSeries } from '../components/Chart';
import { Empty, ErrorBox, Loading, Time, useAsync, useRange } from '../components/common';
import { fmtNum } from '../format';
import { setQuery, useLocation } from '../router';

export interface AnomalyPoint {
  t: string;
  series_kind: 'operation' | 'model';
  service: string;
  operation: string | null;
  model: string | null;
  signal: string;
  observed: number;
  expected: number;
  lower: number;
  upper: number;
  score: number;
  is_anomaly: boolean;
}

const SIGNALS = ['request_rate', 'error_rate', 'latency_p99_ms', 'cost_usd'];

export const seriesName = (p: AnomalyPoint): string => `${p.service} · ${p.operation ?? p.model ?? ''}`;

/** The selected series' points over the range, oldest first, as chart lines. */
function SeriesChart({ service, operation, model, signal }: { service: string; operation: string; model: string; signal: string }) {
  const { range } = useRange();
  const r = useAsync(
    (sig) =>
      get<{ points: AnomalyPoint[] }>('/api/v1/anomalies', { from: range.fromMs, to: range.toMs, service, operation, model, signal, limit: 1000 }, sig),
    [range.fromMs, range.toMs, service, operation, model, signal],
  );
  const view = useMemo(() => {
    const pts = [...(r.data?.points ?? [])].reverse();
    const x = pts.map((p) => Date.parse(p.t) / 1000);
    const series: ChartSeries[] = [
      { label: 'observed', values: pts.map((p) => p.observed), color: '#0072B2' },
      { label: 'expected', values: pts.map((p) => p.expected), color: '#009E73' },
      { label: 'band low', values: pts.map((p) => p.lower), color: '#999999' },
      { label: 'band high', values: pts.map((p) => p.upper), color: '#999999' },
    ];
    const score: ChartSeries[] = [{ label: 'score', values: pts.map((p) => p.score), color: '#D55E00' }];
    return { x, series, score };
  }, [r.data]);
  return (
    <div class="card">
      <h2>
        {service} · {operation || model} · {signal}
      </h2>
      <ErrorBox error={r.error} />
      <Loading when={r.loading} />
      {view.x.length > 0 && (
        <>
          <Chart x={view.x} series={view.series} label="observed and expected values" testId="anomaly-chart" height={180} fmt={(v) => fmtNum(v, 4)} />
          <Chart x={view.x} series={view.score} label="anomaly score" testId="anomaly-score-chart" height={120} fmt={(v) => fmtNum(v, 3)} />
        </>
      )}
    </div>
  );
}

export function Anomalies() {
  const { range } = useRange();
  const { query } = useLocation();
  const service = query.get('service') ?? '';
  const signal = query.get('signal') ?? '';
  const minScore = query.get('min_score') ?? '0.9';
  const sel = { service: query.get('s_service') ?? '', operation: query.get('s_operation') ?? '', model: query.get('s_model') ?? '', signal: query.get('s_signal') ?? '' };
  const r = useAsync(
    (sig) => get<{ points: AnomalyPoint[] }>('/api/v1/anomalies', { from: range.fromMs, to: range.toMs, service, signal, min_score: minScore, limit: 500 }, sig),
    [range.fromMs, range.toMs, service, signal, minScore],
  );
  return (
    <section class="page anomalies">
      <h1>Anomalies</h1>
      <form class="filters" role="search" aria-label="Anomaly filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Service
          <input name="service" value={service} onChange={(e) => setQuery({ service: (e.target as HTMLInputElement).value.trim() })} />
        </label>
        <label>
          Signal
          <select name="signal" value={signal} onChange={(e) => setQuery({ signal: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {SIGNALS.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          Minimum score
          <select name="min_score" value={minScore} onChange={(e) => setQuery({ min_score: (e.target as HTMLSelectElement).value })}>
            {['0', '0.5', '0.9', '0.99'].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
      </form>
      <p class="hint">Scores run from 0 to 1; 0.9 and above is worth a look. Newest first.</p>
      {sel.service && sel.signal && <SeriesChart {...sel} />}
      <ErrorBox error={r.error} />
      <Loading when={r.loading} />
      {r.data && r.data.points.length === 0 && <Empty>No scores at or above {minScore} in this range.</Empty>}
      {r.data && r.data.points.length > 0 && (
        <table class="grid" data-testid="anomaly-list">
          <thead>
            <tr>
              <th scope="col">Minute</th>
              <th scope="col">Series</th>
              <th scope="col">Signal</th>
              <th scope="col" class="num">
                Observed
              </th>
              <th scope="col" class="num">
                Expected [band]
              </th>
              <th scope="col" class="num">
                Score
              </th>
            </tr>
          </thead>
          <tbody>
            {r.data.points.map((p, i) => (
              <tr key={i} class={p.is_anomaly ? 'has-error' : undefined} data-series={seriesName(p)}>
                <td>
                  <Time ms={Date.parse(p.t)} />
                </td>
                <td>
                  <button
                    type="button"
                    class="link-button"
                    onClick={() => setQuery({ s_service: p.service, s_operation: p.operation ?? undefined, s_model: p.model ?? undefined, s_signal: p.signal }, { replace: false })}
                  >
                    {seriesName(p)}
                  </button>
                </td>
                <td>{p.signal}</td>
                <td class="num">{fmtNum(p.observed, 4)}</td>
                <td class="num">
                  {fmtNum(p.expected, 4)} [{fmtNum(p.lower, 4)}, {fmtNum(p.upper, 4)}]
                </td>
                <td class="num">
                  {p.is_anomaly && <span class="err">⚠ </span>}
                  {fmtNum(p.score, 3)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
