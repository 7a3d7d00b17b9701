/**
 * Logs: search by time, severity, service, trace id and body text (a
 * virtualised list that loads more pages as it scrolls), and a live tail
 * (server-sent events from /api/v1/logs/tail) that pauses when the user
 * scrolls away from the newest record. Trace ids link to the trace.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { get, readEventStream, type LogRecord } from '../api';
import { Empty, ErrorBox, Link, Loading, Time, useAsync, useDebounced, useRange } from '../components/common';
import { VirtualList } from '../components/VirtualList';
import { fmtNum, nsToMs, show } from '../format';
import { setQuery, useLocation } from '../router';
import { useGroupValues } from './Traces';

const ROW_H = 24;
const MAX_LIVE = 10_000;

const sevClass = (n: number): string => `sev-n${Math.max(0, Math.min(5, Math.floor((n - 1) / 4)))}`;

function LogRow({ l, selected, onSelect }: { l: LogRecord; selected: boolean; onSelect: () => void }) {
  return (
    <div class={`log-row ${sevClass(l.severity_number)}${selected ? ' selected' : ''}`} data-testid="log-row" onClick={onSelect}>
      <span class="log-time">
        <Time ms={nsToMs(l.time_unix_nano)} withMs />
      </span>
      <span class="sevtext">{l.severity_text || String(l.severity_number)}</span>
      <span class="svc">{l.service}</span>
      <button type="button" class="log-body" onClick={onSelect} title="Show details">
        {show(l.body)}
      </button>
      {l.trace_id ? (
        <Link href={`/ui/traces/${l.trace_id}${l.span_id ? `?span=${l.span_id}` : ''}`} class="trace-link" title={`trace ${l.trace_id}`}>
          trace {l.trace_id.slice(0, 8)}…
        </Link>
      ) : (
        <span class="trace-link" />
      )}
    </div>
  );
}

function LogDetails({ l }: { l: LogRecord }) {
  return (
    <aside class="log-details card" aria-label="Log record" data-testid="log-details">
      <p>
        <Time ms={nsToMs(l.time_unix_nano)} withMs /> · {l.severity_text || l.severity_number} · {l.service}
        {l.trace_id && (
          <>
            {' '}
            · <Link href={`/ui/traces/${l.trace_id}${l.span_id ? `?span=${l.span_id}` : ''}`}>open trace {l.trace_id}</Link>
          </>
        )}
      </p>
      <pre class="log-full">{typeof l.body === 'string' ? l.body : JSON.stringify(l.body, null, 2)}</pre>
      <table class="attrs" aria-label="Log attributes">
        <tbody>
          {Object.entries(l.attributes ?? {}).map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td class="val">{show(v)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </aside>
  );
}

export function Logs() {
  const { range } = useRange();
  const { query } = useLocation();
  const severity = query.get('severity') ?? '';
  const service = query.get('service') ?? '';
  const traceId = query.get('trace_id') ?? '';
  const q = query.get('q') ?? '';
  const live = query.get('live') === '1';
  const filters = { severity, service, trace_id: traceId, q };

  const [form, setForm] = useState({ service, traceId, q });
  useEffect(() => setForm({ service, traceId, q }), [service, traceId, q]);
  const debounced = useDebounced(form, 400);
  useEffect(() => {
    setQuery({ service: debounced.service.trim(), trace_id: debounced.traceId.trim().toLowerCase(), q: debounced.q });
  }, [debounced]);
  const services = useGroupValues('service');

  // ---- search ----
  const [records, setRecords] = useState<LogRecord[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [moreError, setMoreError] = useState<Error | undefined>();
  const loadingMore = useRef(false);
  const search = useAsync(
    (signal) => get<{ logs: LogRecord[]; next_cursor: string | null }>('/api/v1/logs', { ...filters, from: range.fromMs, to: range.toMs, limit: 500 }, signal),
    [range.fromMs, range.toMs, severity, service, traceId, q],
  );
  useEffect(() => {
    setRecords(search.data?.logs ?? []);
    setCursor(search.data?.next_cursor ?? null);
    setMoreError(undefined);
  }, [search.data]);
  const loadMore = async (): Promise<void> => {
    if (cursor === null || loadingMore.current) return;
    loadingMore.current = true;
    try {
      const r = await get<{ logs: LogRecord[]; next_cursor: string | null }>('/api/v1/logs', { ...filters, from: range.fromMs, to: range.toMs, limit: 1000, cursor });
      setRecords((p) => [...p, ...r.logs]);
      setCursor(r.next_cursor);
    } catch (err) {
      setMoreError(err as Error);
    } finally {
      loadingMore.current = false;
    }
  };

  // ---- live tail ----
  const [tail, setTail] = useState<LogRecord[]>([]);
  const [pending, setPending] = useState<LogRecord[]>([]);
  const [paused, setPaused] = useState(false);
  const [tailState, setTailState] = useState<'connecting' | 'live' | 'error'>('connecting');
  const [tailError, setTailError] = useState<Error | undefined>();
  const pausedRef = useRef(false);
  pausedRef.current = paused;
  const tailBox = useRef<HTMLDivElement | null>(null);
  useEffect(() => {
    if (!live) return;
    const ac = new AbortController();
    setTail([]);
    setPending([]);
    setPaused(false);
    setTailError(undefined);
    setTailState('connecting');
    let backoff = 1000;
    const run = async (): Promise<void> => {
      while (!ac.signal.aborted) {
        try {
          await readEventStream('/api/v1/logs/tail', { severity, service, trace_id: traceId, q }, ac.signal, (event, data) => {
            if (event === 'ready') {
              setTailState('live');
              backoff = 1000;
              return;
            }
            if (event !== 'logs') return;
            const batch = JSON.parse(data) as LogRecord[];
            if (pausedRef.current) setPending((p) => [...p, ...batch].slice(-MAX_LIVE));
            else setTail((t) => [...t, ...batch].slice(-MAX_LIVE));
          });
        } catch (err) {
          if (ac.signal.aborted) return;
          setTailError(err as Error);
          setTailState('error');
          if ((err as { status?: number }).status === 400 || (err as { status?: number }).status === 401) return;
        }
        if (ac.signal.aborted) return;
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 30_000);
      }
    };
    void run();
    return () => ac.abort();
  }, [live, severity, service, traceId, q]);
  // Follow the newest record unless paused.
  useEffect(() => {
    const el = tailBox.current;
    if (live && !paused && el) el.scrollTop = el.scrollHeight;
  }, [tail, live, paused]);
  const resume = (): void => {
    setTail((t) => [...t, ...pending].slice(-MAX_LIVE));
    setPending([]);
    setPaused(false);
  };

  const [selected, setSelected] = useState<LogRecord | undefined>();
  const shown = live ? tail : records;
  const errCount = useMemo(() => shown.filter((l) => l.severity_number >= 17).length, [shown]);

  return (
    <section class="page logs">
      <h1>Logs</h1>
      <form class="filters" role="search" aria-label="Log filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Text in body
          <input type="search" name="q" value={form.q} onInput={(e) => setForm({ ...form, q: (e.target as HTMLInputElement).value })} />
        </label>
        <label>
          Minimum severity
          <select name="severity" value={severity} onChange={(e) => setQuery({ severity: (e.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Service
          <input list="log-services" name="service" value={form.service} onInput={(e) => setForm({ ...form, service: (e.target as HTMLInputElement).value })} />
          <datalist id="log-services">
            {services.map((s) => (
              <option key={s} value={s} />
            ))}
          </datalist>
        </label>
        <label>
          Trace id
          <input name="trace_id" size={34} value={form.traceId} onInput={(e) => setForm({ ...form, traceId: (e.target as HTMLInputElement).value })} />
        </label>
        <label class="check">
          <input type="checkbox" name="live" checked={live} onChange={(e) => setQuery({ live: (e.target as HTMLInputElement).checked ? '1' : undefined }, { replace: false })} />
          Live tail
        </label>
      </form>

      {live ? (
        <div class="tail-bar" data-testid="tail-status" data-state={paused ? 'paused' : tailState}>
          {tailState === 'connecting' && 'Connecting to the live tail…'}
          {tailState === 'live' && !paused && <span class="live-dot">● Live: new records appear at the bottom. Scroll up to pause.</span>}
          {tailState === 'error' && <ErrorBox error={tailError} />}
          {paused && (
            <span>
              Paused · {fmtNum(pending.length)} new record{pending.length === 1 ? '' : 's'}{' '}
              <button type="button" onClick={resume} data-testid="tail-resume">
                Resume
              </button>
            </span>
          )}
        </div>
      ) : (
        <>
          <ErrorBox error={search.error} />
          <Loading when={search.loading} />
        </>
      )}
      <p class="hint" role="status">
        {fmtNum(shown.length)} records{live ? ' received' : cursor !== null ? ' loaded (scroll for more)' : ''} · {fmtNum(errCount)} errors or worse
      </p>
      {!live && search.data && records.length === 0 && <Empty>No log records match in this range.</Empty>}
      {(live || records.length > 0) && (
        <VirtualList
          count={shown.length}
          rowHeight={ROW_H}
          height="60vh"
          label={live ? 'Live log records, oldest first' : 'Log records, newest first'}
          testId={live ? 'tail-list' : 'log-list'}
          boxRef={tailBox}
          onScroll={(el) => {
            const atEnd = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_H * 2;
            if (live) {
              if (!atEnd && !paused) setPaused(true);
            } else if (atEnd) void loadMore();
          }}
          renderRow={(i) => {
            const l = shown[i]!;
            return <LogRow l={l} selected={selected === l} onSelect={() => setSelected(l)} />;
          }}
        />
      )}
      <ErrorBox error={moreError} />
      {selected && <LogDetails l={selected} />}
    </section>
  );
}
