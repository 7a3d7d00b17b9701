/** Trace search: filters in the URL, a sortable list, more pages by cursor. */
import { useEffect, useMemo, useState } from 'preact/hooks';
import { get, type LatencyPoint, type SeriesAnswer, type TraceSummary } from '../api';
import { Empty, ErrorBox, Link, Loading, Time, useAsync, useDebounced, useRange } from '../components/common';
import { fmtDuration, fmtNum } from '../format';
import { setQuery, useLocation } from '../router';

type SortKey = 'start' | 'duration' | 'spans' | 'errors' | 'name';

/** Distinct values of a latency group over the range (for filter suggestions). */
export function useGroupValues(group: 'service' | 'operation' | 'model', filters: Record<string, string | undefined> = {}): string[] {
  const { range } = useRange();
  const step = Math.max(60, Math.ceil((range.toMs - range.fromMs) / 1000 / 1400 / 60) * 60);
  const r = useAsync(
    (signal) => get<SeriesAnswer<LatencyPoint>>('/api/v1/metrics/latency', { from: range.fromMs, to: range.toMs, step: step < 3600 ? 3600 : step, group_by: group, ...filters }, signal),
    [range.fromMs, range.toMs, group, JSON.stringify(filters)],
  );
  return useMemo(() => [...new Set((r.data?.points ?? []).map((p) => p.group ?? ''))].filter((g) => g !== '').sort(), [r.data]);
}

export function Traces() {
  const { range } = useRange();
  const { query } = useLocation();
  const service = query.get('service') ?? '';
  const operation = query.get('operation') ?? '';
  const status = query.get('status') ?? '';
  const minD = query.get('min_duration_ms') ?? '';
  const maxD = query.get('max_duration_ms') ?? '';
  const sort = (query.get('sort') as SortKey | null) ?? 'start';
  const dir = query.get('dir') === 'asc' ? 'asc' : 'desc';

  // Inputs are local until debounced into the URL.
  const [form, setForm] = useState({ service, operation, minD, maxD });
  useEffect(() => setForm({ service, operation, minD, maxD }), [service, operation, minD, maxD]);
  const debounced = useDebounced(form, 400);
  useEffect(() => {
    setQuery({ service: debounced.service.trim(), operation: debounced.operation.trim(), min_duration_ms: debounced.minD.trim(), max_duration_ms: debounced.maxD.trim() });
  }, [debounced]);

  const services = useGroupValues('service');
  const operations = useGroupValues('operation', service ? { service } : {});

  const [pages, setPages] = useState<TraceSummary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const filters = { service, operation, status, min_duration_ms: minD, max_duration_ms: maxD };
  const first = useAsync(
    (signal) => get<{ traces: TraceSummary[]; next_cursor: string | null }>('/api/v1/traces', { ...filters, from: range.fromMs, to: range.toMs, limit: 100 }, signal),
    [range.fromMs, range.toMs, service, operation, status, minD, maxD],
  );
  useEffect(() => {
    setPages(first.data?.traces ?? []);
    setCursor(first.data?.next_cursor ?? null);
  }, [first.data]);
  const [moreError, setMoreError] = useState<Error | undefined>();
  const loadMore = async (): Promise<void> => {
    if (cursor === null) return;
    try {
      const r = await get<{ traces: TraceSummary[]; next_cursor: string | null }>('/api/v1/traces', { ...filters, from: range.fromMs, to: range.toMs, limit: 100, cursor });
      setPages((p) => [...p, ...r.traces]);
      setCursor(r.next_cursor);
    } catch (err) {
      setMoreError(err as Error);
    }
  };

  const sorted = useMemo(() => {
    const key: Record<SortKey, (t: TraceSummary) => number | string> = {
      start: (t) => t.start_time_unix_nano.padStart(20, '0'),
      duration: (t) => t.duration_ms,
      spans: (t) => t.span_count,
      errors: (t) => t.error_count,
      name: (t) => t.root_name.toLowerCase(),
    };
    const k = key[sort] ?? key.start;
    const out = [...pages].sort((a, b) => {
      const x = k(a);
      const y = k(b);
      return x < y ? -1 : x > y ? 1 : 0;
    });
    return dir === 'desc' ? out.reverse() : out;
  }, [pages, sort, dir]);

  const header = (k: SortKey, label: string, num = false) => (
    <th scope="col" class={num ? 'num' : undefined} aria-sort={sort === k ? (dir === 'asc' ? 'ascending' : 'descending') : 'none'}>
      <button type="button" class="sort" onClick={() => setQuery({ sort: k, dir: sort === k && dir === 'desc' ? 'asc' : 'desc' })}>
        {label} {sort === k ? (dir === 'asc' ? '▲' : '▼') : ''}
      </button>
    </th>
  );

  return (
    <section class="page traces">
      <h1>Traces</h1>
      <form class="filters" onSubmit={(e) => e.preventDefault()} role="search" aria-label="Trace filters">
        <label>
          Service
          <input list="services-list" value={form.service} onInput={(e) => setForm({ ...form, service: (e.target as HTMLInputElement).value })} name="service" />
          <datalist id="services-list">
            {services.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </label>
        <label>
          Operation
          <input list="operations-list" value={form.operation} onInput={(e) => setForm({ ...form, operation: (e.target as HTMLInputElement).value })} name="operation" />
          <datalist id="operations-list">
            {operations.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </label>
        <label>
          Status
          <select value={status} onChange={(e) => setQuery({ status: (e.target as HTMLSelectElement).value })} name="status">
            <option value="">any</option>
            <option value="error">error</option>
            <option value="ok">ok</option>
            <option value="unset">unset</option>
          </select>
        </label>
        <label>
          Min duration (ms)
          <input inputMode="decimal" value={form.minD} onInput={(e) => setForm({ ...form, minD: (e.target as HTMLInputElement).value })} name="min_duration_ms" size={8} />
        </label>
        <label>
          Max duration (ms)
          <input inputMode="decimal" value={form.maxD} onInput={(e) => setForm({ ...form, maxD: (e.target as HTMLInputElement).value })} name="max_duration_ms" size={8} />
        </label>
      </form>
      <p class="hint">A trace is listed when one of its spans in the range matches every filter. Sorting applies to the traces loaded so far.</p>
      <ErrorBox error={first.error} />
      <Loading when={first.loading} />
      {first.data && pages.length === 0 && <Empty>No traces match in this range.</Empty>}
      {pages.length > 0 && (
        <table class="grid trace-list" data-testid="trace-list">
          <thead>
            <tr>
              {header('start', 'Start')}
              {header('name', 'Root span')}
              <th scope="col">Services</th>
              {header('duration', 'Duration', true)}
              {header('spans', 'Spans', true)}
              {header('errors', 'Errors', true)}
            </tr>
          </thead>
          <tbody>
            {sorted.map((t) => (
              <tr key={t.trace_id} data-trace-id={t.trace_id} class={t.error_count > 0 ? 'has-error' : undefined}>
                <td>
                  <Time ms={Date.parse(t.start)} withMs />
                </td>
                <td>
                  <Link href={`/ui/traces/${t.trace_id}`}>
                    <span class="svc">{t.root_service}</span> {t.root_name}
                  </Link>
                </td>
                <td class="services-cell">{t.services.join(', ')}</td>
                <td class="num">{fmtDuration(t.duration_ms)}</td>
                <td class="num">{fmtNum(t.span_count)}</td>
                <td class="num">{t.error_count > 0 ? <span class="err">⚠ {fmtNum(t.error_count)}</span> : '0'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ErrorBox error={moreError} />
      {cursor !== null && (
        <button type="button" onClick={loadMore} class="more">
          Load more traces
        </button>
      )}
    </section>
  );
}
