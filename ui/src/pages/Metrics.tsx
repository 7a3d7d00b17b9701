/**
 * Latency and cost: p50/p95/p99 and request/error rates with group-by, LLM
 * cost and tokens by model, provider, service or user (unpriced spans shown
 * as such, never as $0). Filters and groupings live in the URL.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { get, type CostPoint, type LatencyPoint, type SeriesAnswer } from '../api';
import { Chart, alignSeries, type ChartSeries } from '../components/Chart';
import { Empty, ErrorBox, Loading, useAsync, useDebounced, useRange } from '../components/common';
import { fmtDuration, fmtNum, fmtPct, fmtUsd } from '../format';
import { setQuery, useLocation } from '../router';
import { stepFor } from '../time';
import { useGroupValues } from './Traces';

const TOP = 8;
type Pct = 'p50' | 'p95' | 'p99';

function topGroups<P extends { group: string | null }>(points: P[], weight: (p: P) => number): string[] {
  const w = new Map<string, number>();
  for (const p of points) w.set(p.group ?? '', (w.get(p.group ?? '') ?? 0) + weight(p));
  return [...w.entries()].sort((a, b) => b[1] - a[1]).map(([g]) => g);
}

function LatencySection({ filters, step }: { filters: Record<string, string>; step: number }) {
  const { range } = useRange();
  const { query } = useLocation();
  const groupBy = query.get('lgroup') ?? '';
  const pct = (query.get('pct') as Pct | null) ?? 'p99';
  const r = useAsync(
    (signal) => get<SeriesAnswer<LatencyPoint>>('/api/v1/metrics/latency', { from: range.fromMs, to: range.toMs, step, group_by: groupBy, ...filters }, signal),
    [range.fromMs, range.toMs, step, groupBy, JSON.stringify(filters)],
  );
  const charts = useMemo(() => {
    const d = r.data;
    if (!d) return undefined;
    const fromS = Date.parse(d.from) / 1000;
    const toS = Date.parse(d.to) / 1000;
    const perMin = d.step / 60;
    if (!d.group_by) {
      const q = (f: (p: LatencyPoint) => number | null, fill: number | null = null) => alignSeries(d.points, fromS, toS, d.step, f, fill);
      const p50 = q((p) => p.p50_ms);
      const p95 = q((p) => p.p95_ms);
      const p99 = q((p) => p.p99_ms);
      const rate = q((p) => p.count / perMin, 0);
      const err = q((p) => (p.count ? p.error_count / p.count : null));
      const one = (m: typeof p50): Array<number | null> => m.groups.get('') ?? m.x.map(() => null);
      return {
        x: p50.x,
        latency: [
          { label: 'p50', values: one(p50) },
          { label: 'p95', values: one(p95) },
          { label: 'p99', values: one(p99) },
        ] as ChartSeries[],
        rate: [{ label: 'requests/min', values: one(rate) }] as ChartSeries[],
        err: [{ label: 'error rate', values: one(err), color: '#D55E00' }] as ChartSeries[],
        omitted: 0,
      };
    }
    const order = topGroups(d.points, (p) => p.count);
    const keep = new Set(order.slice(0, TOP));
    const pts = d.points.filter((p) => keep.has(p.group ?? ''));
    const key = `${pct}_ms` as const;
    const lat = alignSeries(pts, fromS, toS, d.step, (p) => p[key]);
    const rate = alignSeries(pts, fromS, toS, d.step, (p) => p.count / perMin, 0);
    const err = alignSeries(pts, fromS, toS, d.step, (p) => (p.count ? p.error_count / p.count : null));
    const groups = order.slice(0, TOP);
    return {
      x: lat.x,
      latency: groups.map((g) => ({ label: g || '(none)', values: lat.groups.get(g)! })),
      rate: groups.map((g) => ({ label: g || '(none)', values: rate.groups.get(g)! })),
      err: groups.map((g) => ({ label: g || '(none)', values: err.groups.get(g)! })),
      omitted: Math.max(0, order.length - TOP),
    };
  }, [r.data, pct]);

  return (
    <section aria-labelledby="lat-h">
      <h2 id="lat-h">Latency and traffic</h2>
      <div class="filters">
        <label>
          Group by
          <select name="lgroup" value={groupBy} onChange={(e) => setQuery({ lgroup: (e.target as HTMLSelectElement).value })}>
            <option value="">nothing (p50/p95/p99)</option>
            <option value="service">service</option>
            <option value="operation">operation</option>
            <option value="model">model</option>
          </select>
        </label>
        {groupBy && (
          <label>
            Percentile
            <select name="pct" value={pct} onChange={(e) => setQuery({ pct: (e.target as HTMLSelectElement).value })}>
              <option value="p50">p50</option>
              <option value="p95">p95</option>
              <option value="p99">p99</option>
            </select>
          </label>
        )}
      </div>
      <ErrorBox error={r.error} />
      <Loading when={r.loading} />
      {r.data && r.data.points.length === 0 && <Empty>No spans in this range.</Empty>}
      {charts && r.data && r.data.points.length > 0 && (
        <>
          {charts.omitted > 0 && <p class="hint">Showing the {TOP} largest groups; {charts.omitted} more are left out (filter to see them).</p>}
          <h3>{groupBy ? `${pct} latency by ${groupBy}` : 'Latency percentiles'}</h3>
          <Chart x={charts.x} series={charts.latency} fmt={(v) => fmtDuration(v)} label="latency" testId="latency-chart" height={220} />
          <div class="two">
            <div>
              <h3>Request rate (/min)</h3>
              <Chart x={charts.x} series={charts.rate} fmt={(v) => fmtNum(v, 1)} label="request rate" testId="rate-chart" height={160} />
            </div>
            <div>
              <h3>Error rate</h3>
              <Chart x={charts.x} series={charts.err} fmt={(v) => fmtPct(v, 1)} label="error rate" testId="error-chart" height={160} />
            </div>
          </div>
        </>
      )}
    </section>
  );
}

interface CostTotal {
  group: string;
  cost: number;
  input: number;
  output: number;
  cached: number;
  unpriced: number;
  spans: number;
}

function CostSection({ filters, step }: { filters: Record<string, string>; step: number }) {
  const { range } = useRange();
  const { query } = useLocation();
  const groupBy = query.get('cgroup') || 'model';
  const r = useAsync(
    (signal) => get<SeriesAnswer<CostPoint>>('/api/v1/metrics/cost', { from: range.fromMs, to: range.toMs, step, group_by: groupBy, ...filters }, signal),
    [range.fromMs, range.toMs, step, groupBy, JSON.stringify(filters)],
  );
  const view = useMemo(() => {
    const d = r.data;
    if (!d) return undefined;
    const totals = new Map<string, CostTotal>();
    for (const p of d.points) {
      const g = p.group ?? '';
      const t = totals.get(g) ?? { group: g, cost: 0, input: 0, output: 0, cached: 0, unpriced: 0, spans: 0 };
      t.cost += p.cost_usd ?? 0;
      t.input += p.input_tokens;
      t.output += p.output_tokens;
      t.cached += p.cached_tokens;
      t.unpriced += p.unpriced_spans;
      t.spans += p.spans;
      totals.set(g, t);
    }
    // Only spans with an LLM call matter here: groups without tokens, cost or unpriced spans are left out.
    const rows = [...totals.values()].filter((t) => t.cost > 0 || t.unpriced > 0 || t.input + t.output > 0).sort((a, b) => b.cost - a.cost || b.unpriced - a.unpriced);
    const keep = new Set(rows.slice(0, TOP).map((t) => t.group));
    const a = alignSeries(
      d.points.filter((p) => keep.has(p.group ?? '')),
      Date.parse(d.from) / 1000,
      Date.parse(d.to) / 1000,
      d.step,
      (p) => p.cost_usd ?? 0,
      0,
    );
    const series = rows.slice(0, TOP).map((t) => ({ label: t.group || '(none)', values: a.groups.get(t.group)! }));
    const sum = rows.reduce((s, t) => ({ ...s, cost: s.cost + t.cost, input: s.input + t.input, output: s.output + t.output, cached: s.cached + t.cached, unpriced: s.unpriced + t.unpriced, spans: s.spans + t.spans }), {
      group: 'total',
      cost: 0,
      input: 0,
      output: 0,
      cached: 0,
      unpriced: 0,
      spans: 0,
    });
    return { x: a.x, series, rows, sum };
  }, [r.data]);

  return (
    <section aria-labelledby="cost-h">
      <h2 id="cost-h">LLM cost</h2>
      <div class="filters">
        <label>
          Cost by
          <select name="cgroup" value={groupBy} onChange={(e) => setQuery({ cgroup: (e.target as HTMLSelectElement).value })}>
            <option value="model">model</option>
            <option value="provider">provider</option>
            <option value="service">service</option>
            <option value="user">user</option>
          </select>
        </label>
      </div>
      <ErrorBox error={r.error} />
      <Loading when={r.loading} />
      {view && view.rows.length === 0 && <Empty>No LLM calls in this range.</Empty>}
      {view && view.rows.length > 0 && (
        <>
          <Chart x={view.x} series={view.series} fmt={(v) => fmtUsd(v)} label={`cost by ${groupBy}`} testId="cost-chart" height={200} bars={view.series.length === 1} />
          <table class="grid" data-testid="cost-table">
            <thead>
              <tr>
                <th scope="col">{groupBy}</th>
                <th scope="col" class="num">
                  Cost
                </th>
                <th scope="col" class="num">
                  Input tokens
                </th>
                <th scope="col" class="num">
                  Cached
                </th>
                <th scope="col" class="num">
                  Output tokens
                </th>
                <th scope="col" class="num">
                  Spans
                </th>
                <th scope="col" class="num">
                  Unpriced spans
                </th>
              </tr>
            </thead>
            <tbody>
              {[...view.rows, view.sum].map((t) => (
                <tr key={t.group} class={t === view.sum ? 'total' : undefined} data-group={t.group}>
                  <th scope="row">{t === view.sum ? 'Total' : t.group || '(none)'}</th>
                  <td class="num">{t.cost === 0 && t.unpriced > 0 ? <span class="tag">unpriced</span> : fmtUsd(t.cost)}</td>
                  <td class="num">{fmtNum(t.input)}</td>
                  <td class="num">{fmtNum(t.cached)}</td>
                  <td class="num">{fmtNum(t.output)}</td>
                  <td class="num">{fmtNum(t.spans)}</td>
                  <td class="num">{t.unpriced > 0 ? <span class="tag" title="no known price: not included in the cost">{fmtNum(t.unpriced)} unpriced</span> : '0'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="hint">Unpriced spans call a model the price table does not know: their cost is unknown and not included above (never counted as $0).</p>
        </>
      )}
    </section>
  );
}

export function Metrics() {
  const { range } = useRange();
  const { query } = useLocation();
  const service = query.get('service') ?? '';
  const operation = query.get('operation') ?? '';
  const model = query.get('model') ?? '';
  const [form, setForm] = useState({ service, operation, model });
  useEffect(() => setForm({ service, operation, model }), [service, operation, model]);
  const debounced = useDebounced(form, 400);
  useEffect(() => setQuery({ service: debounced.service.trim(), operation: debounced.operation.trim(), model: debounced.model.trim() }), [debounced]);
  const services = useGroupValues('service');
  const models = useGroupValues('model');
  const step = stepFor(range.fromMs, range.toMs, 120);
  const filters: Record<string, string> = {};
  if (service) filters.service = service;
  if (operation) filters.operation = operation;
  if (model) filters.model = model;

  return (
    <section class="page metrics">
      <h1>Latency and cost</h1>
      <form class="filters" role="search" aria-label="Metric filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Service
          <input list="m-services" name="service" value={form.service} onInput={(e) => setForm({ ...form, service: (e.target as HTMLInputElement).value })} />
          <datalist id="m-services">
            {services.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </label>
        <label>
          Operation
          <input name="operation" value={form.operation} onInput={(e) => setForm({ ...form, operation: (e.target as HTMLInputElement).value })} />
        </label>
        <label>
          Model
          <input list="m-models" name="model" value={form.model} onInput={(e) => setForm({ ...form, model: (e.target as HTMLInputElement).value })} />
          <datalist id="m-models">
            {models.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </label>
        <span class="hint">buckets of {fmtDuration(step * 1000)}</span>
      </form>
      <LatencySection filters={filters} step={step} />
      <CostSection filters={filters} step={step} />
    </section>
  );
}
