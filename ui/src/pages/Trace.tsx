/**
 * One trace: a virtualised waterfall (Gantt bars on a shared time axis,
 * nesting, critical path, errors marked) and the selected span's details
 * (typed attributes, events, links, cost and tokens, its logs, copy-as-JSON).
 * Keyboard: ↑/↓ (Home/End) move, ←/→ collapse/expand, Enter shows details.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { get, type LogRecord, type SpanNode, type TraceAnswer } from '../api';
import { Empty, ErrorBox, Link, Loading, Time, useAsync } from '../components/common';
import { VirtualList } from '../components/VirtualList';
import { fmtDuration, fmtNum, fmtUsd, nsToMs, show, typeOf } from '../format';
import { setQuery, useLocation } from '../router';
import { buildModel, spanJson, visibleRows, type Row } from './waterfall';

const ROW_H = 26;

function Attributes({ attrs, label }: { attrs: Record<string, unknown> | undefined; label: string }) {
  const entries = Object.entries(attrs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (entries.length === 0) return <p class="empty">No {label.toLowerCase()}.</p>;
  return (
    <table class="attrs" aria-label={label}>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td class="type">{typeOf(v)}</td>
            <td class="val">{show(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

async function copy(text: string, done: (msg: string) => void): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    done('Copied');
  } catch {
    done('Copy failed: the browser refused clipboard access');
  }
}

function SpanDetails({ row, logs, traceStartMs }: { row: Row; logs: LogRecord[] | undefined; traceStartMs: number }) {
  const s = row.span;
  const [copied, setCopied] = useState('');
  useEffect(() => setCopied(''), [s.span_id]);
  const spanStartMs = nsToMs(s.start_time_unix_nano);
  const mine = (logs ?? []).filter((l) => l.span_id === s.span_id);
  const llm = s.model !== '' || s.input_tokens > 0 || s.output_tokens > 0 || s.cost_usd !== null;
  return (
    <aside class="span-details" aria-label="Span details" data-testid="span-details" data-span-id={s.span_id}>
      <header>
        <h2 class="span-title">{s.name}</h2>
        <button type="button" onClick={() => copy(spanJson(s), setCopied)}>
          Copy span as JSON
        </button>
        <span role="status" class="hint">
          {copied}
        </span>
      </header>
      <dl class="kv">
        <dt>Service</dt>
        <dd>{s.service}</dd>
        <dt>Kind</dt>
        <dd>{s.kind}</dd>
        <dt>Status</dt>
        <dd class={row.error ? 'err' : undefined}>
          {row.error ? '⚠ ' : ''}
          {s.status}
          {s.status_message ? `: ${s.status_message}` : ''}
        </dd>
        <dt>Start</dt>
        <dd>
          <Time ms={spanStartMs} withMs /> (+{fmtDuration(spanStartMs - traceStartMs)})
        </dd>
        <dt>Duration</dt>
        <dd>{fmtDuration(s.duration_ms)}</dd>
        <dt>Span id</dt>
        <dd>
          <code>{s.span_id}</code>
        </dd>
        <dt>Parent</dt>
        <dd>
          <code>{s.parent_span_id || '(root)'}</code>
        </dd>
        {s.trace_state ? (
          <>
            <dt>Trace state</dt>
            <dd>
              <code>{s.trace_state}</code>
            </dd>
          </>
        ) : null}
      </dl>
      {llm && (
        <section>
          <h3>LLM cost and tokens</h3>
          <dl class="kv">
            <dt>Model</dt>
            <dd>{s.model || '—'}</dd>
            <dt>Provider</dt>
            <dd>{s.provider || '—'}</dd>
            <dt>Tokens</dt>
            <dd>
              {fmtNum(s.input_tokens)} in ({fmtNum(s.cached_tokens)} cached) · {fmtNum(s.output_tokens)} out
            </dd>
            <dt>Cost</dt>
            <dd data-testid="span-cost">{s.cost_usd === null || s.unpriced ? <span class="tag">unpriced (model without a known price)</span> : fmtUsd(s.cost_usd)}</dd>
          </dl>
        </section>
      )}
      <section>
        <h3>Attributes</h3>
        <Attributes attrs={s.attributes} label="Attributes" />
      </section>
      <section>
        <h3>Events ({s.events.length})</h3>
        {s.events.length === 0 && <p class="empty">No events.</p>}
        <ol class="events">
          {s.events.map((e, i) => (
            <li key={i}>
              <b>{e.name ?? ''}</b> <span class="hint">+{fmtDuration(nsToMs(e.time_unix_nano) - spanStartMs)}</span>
              <Attributes attrs={e.attributes} label="Event attributes" />
            </li>
          ))}
        </ol>
      </section>
      <section>
        <h3>Links ({s.links?.length ?? 0})</h3>
        {(s.links ?? []).length === 0 && <p class="empty">No links.</p>}
        <ul class="links">
          {(s.links ?? []).map((l, i) => (
            <li key={i}>
              {l.trace_id && /^[0-9a-f]{32}$/.test(l.trace_id) ? <Link href={`/ui/traces/${l.trace_id}`}>trace {l.trace_id}</Link> : <code>{l.trace_id ?? ''}</code>} span{' '}
              <code>{l.span_id ?? ''}</code>
              <Attributes attrs={l.attributes} label="Link attributes" />
            </li>
          ))}
        </ul>
      </section>
      <section>
        <h3>Logs of this span ({logs === undefined ? '…' : mine.length})</h3>
        {mine.length === 0 && logs !== undefined && <p class="empty">No logs carry this span's id.</p>}
        <ul class="span-logs">
          {mine.map((l, i) => (
            <li key={i} class={`sev-n${Math.floor((l.severity_number - 1) / 4)}`}>
              <Time ms={nsToMs(l.time_unix_nano)} withMs /> <span class="sevtext">{l.severity_text || l.severity_number}</span> <span class="body">{show(l.body)}</span>
            </li>
          ))}
        </ul>
      </section>
      <section>
        <h3>Resource</h3>
        <Attributes attrs={s.resource_attributes} label="Resource attributes" />
      </section>
    </aside>
  );
}

export function TracePage({ traceId }: { traceId: string }) {
  const { query } = useLocation();
  const trace = useAsync((signal) => get<TraceAnswer>(`/api/v1/traces/${traceId}`, undefined, signal), [traceId]);
  const model = useMemo(() => (trace.data ? buildModel(trace.data.spans) : undefined), [trace.data]);
  const [collapsed, setCollapsed] = useState<Set<string>>(new Set());
  const rows = useMemo(() => (model ? visibleRows(model, collapsed) : []), [model, collapsed]);
  const selectedId = query.get('span') ?? model?.all[0]?.span.span_id ?? '';
  const selIndex = Math.max(0, rows.findIndex((r) => r.span.span_id === selectedId));
  const selected = model?.byId.get(selectedId) ?? rows[0];
  const box = useRef<HTMLDivElement | null>(null);
  const [copied, setCopied] = useState('');

  const traceStartMs = model ? nsToMs(model.startNs.toString()) : 0;
  const logs = useAsync(
    (signal) =>
      model
        ? get<{ logs: LogRecord[] }>(
            '/api/v1/logs',
            { trace_id: traceId, from: Math.floor(traceStartMs) - 60_000, to: Math.ceil(traceStartMs + model.totalMs) + 300_000, limit: 1000 },
            signal,
          ).then((r) => r.logs)
        : Promise.resolve(undefined),
    [model],
  );

  const select = (i: number): void => {
    const r = rows[Math.max(0, Math.min(rows.length - 1, i))];
    if (r === undefined) return;
    setQuery({ span: r.span.span_id });
    const el = box.current;
    if (el) {
      const top = rows.indexOf(r) * ROW_H;
      if (top < el.scrollTop) el.scrollTop = top;
      else if (top + ROW_H > el.scrollTop + el.clientHeight) el.scrollTop = top + ROW_H - el.clientHeight;
    }
  };
  const toggle = (id: string, open?: boolean): void => {
    const next = new Set(collapsed);
    const isCollapsed = next.has(id);
    if (open === undefined ? isCollapsed : open) next.delete(id);
    else next.add(id);
    setCollapsed(next);
  };
  const onKey = (e: KeyboardEvent): void => {
    const cur = rows[selIndex];
    switch (e.key) {
      case 'ArrowDown':
        select(selIndex + 1);
        break;
      case 'ArrowUp':
        select(selIndex - 1);
        break;
      case 'Home':
        select(0);
        break;
      case 'End':
        select(rows.length - 1);
        break;
      case 'PageDown':
        select(selIndex + 15);
        break;
      case 'PageUp':
        select(selIndex - 15);
        break;
      case 'ArrowLeft':
        if (cur?.hasChildren && !collapsed.has(cur.span.span_id)) toggle(cur.span.span_id, false);
        else if (cur) {
          const parent = model?.byId.get(cur.span.parent_span_id);
          if (parent) select(rows.indexOf(parent));
        }
        break;
      case 'ArrowRight':
        if (cur?.hasChildren) toggle(cur.span.span_id, true);
        break;
      default:
        return;
    }
    e.preventDefault();
  };

  if (trace.error) return <ErrorBox error={trace.error} />;
  if (!trace.data || !model) return <Loading when />;
  const total = Math.max(model.totalMs, 0.001);
  const root = model.all[0]?.span;
  const ticks = [0, 0.25, 0.5, 0.75, 1];

  return (
    <section class="page trace" data-testid="trace-page" data-trace-id={traceId}>
      <p class="crumbs">
        <Link href="/ui/traces">Traces</Link> / <code>{traceId}</code>
      </p>
      <h1 class="trace-title">
        {root?.service ? <span class="svc">{root.service}</span> : null} {root?.name ?? traceId}
      </h1>
      <div class="trace-meta">
        <span>
          <Time ms={traceStartMs} withMs />
        </span>
        <span>duration {fmtDuration(model.totalMs)}</span>
        <span data-testid="span-count">{fmtNum(trace.data.span_count)} spans</span>
        <span class={model.errors > 0 ? 'err' : undefined}>
          {model.errors > 0 ? '⚠ ' : ''}
          {model.errors} errors
        </span>
        <span>services: {model.services.join(', ')}</span>
        <button type="button" onClick={() => copy(JSON.stringify(trace.data, null, 2), setCopied)}>
          Copy trace as JSON
        </button>
        <span role="status" class="hint">
          {copied}
        </span>
        <Link href={`/ui/logs?trace_id=${traceId}&from=${Math.floor(traceStartMs) - 60_000}&to=${Math.ceil(traceStartMs + model.totalMs) + 300_000}`}>Logs of this trace</Link>
      </div>
      {trace.data.truncated && <p class="error-box">This trace has more spans than the API returns (10,000): the waterfall shows the first 10,000.</p>}
      <p class="legend-line" aria-hidden="true">
        <span class="bar-sample" /> span <span class="bar-sample crit" /> critical path <span class="bar-sample error" /> error ⚠
      </p>
      <div class="trace-body">
        <div class="waterfall">
          <div class="wf-axis" aria-hidden="true">
            <div class="wf-name">Span</div>
            <div class="wf-ticks">
              {ticks.map((t) => (
                <span key={t} style={{ left: `${t * 100}%` }}>
                  {fmtDuration(t * total)}
                </span>
              ))}
            </div>
          </div>
          <VirtualList
            count={rows.length}
            rowHeight={ROW_H}
            height="65vh"
            label="Spans of the trace (use the arrow keys)"
            testId="waterfall"
            role="tree"
            boxRef={box}
            onKeyDown={onKey}
            activeId={selected ? `span-${selected.span.span_id}` : undefined}
            renderRow={(i) => {
              const r = rows[i]!;
              const s = r.span;
              const left = (r.startMs / total) * 100;
              const width = Math.max((r.durationMs / total) * 100, 0.2);
              const crit = model.critical.has(s.span_id);
              const sel = s.span_id === selected?.span.span_id;
              return (
                <div
                  class={`wf-row${sel ? ' selected' : ''}${r.error ? ' error' : ''}`}
                  role="treeitem"
                  aria-level={r.depth + 1}
                  aria-selected={sel}
                  aria-expanded={r.hasChildren ? !collapsed.has(s.span_id) : undefined}
                  id={`span-${s.span_id}`}
                  data-span-id={s.span_id}
                  data-depth={r.depth}
                  data-critical={crit ? 'true' : 'false'}
                  data-error={r.error ? 'true' : 'false'}
                  onClick={() => select(i)}
                >
                  <div class="wf-name" style={{ paddingLeft: `${4 + Math.min(r.depth, 40) * 14}px` }}>
                    {r.hasChildren ? (
                      <button
                        type="button"
                        tabIndex={-1}
                        class="caret"
                        aria-label={collapsed.has(s.span_id) ? 'Expand' : 'Collapse'}
                        onClick={(e) => {
                          e.stopPropagation();
                          toggle(s.span_id);
                        }}
                      >
                        {collapsed.has(s.span_id) ? '▸' : '▾'}
                      </button>
                    ) : (
                      <span class="caret" />
                    )}
                    {r.error && (
                      <span class="err" title="error">
                        ⚠{' '}
                      </span>
                    )}
                    <span class="svc">{s.service}</span> <span class="span-name">{s.name}</span>
                  </div>
                  <div class="wf-track">
                    <div class={`wf-bar${crit ? ' crit' : ''}${r.error ? ' error' : ''}`} style={{ left: `${left}%`, width: `${width}%` }} title={`${s.name}: ${fmtDuration(r.durationMs)}`} />
                    <span class="wf-dur" style={{ left: `${Math.min(left + width, 88)}%` }}>
                      {fmtDuration(r.durationMs)}
                    </span>
                  </div>
                </div>
              );
            }}
          />
          {rows.length === 0 && <Empty>No spans.</Empty>}
        </div>
        {selected && <SpanDetails row={selected} logs={logs.data} traceStartMs={traceStartMs} />}
      </div>
    </section>
  );
}
