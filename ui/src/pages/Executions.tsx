/**
 * Executions (seed 004, GET /api/v1/executions): the list with status,
 * duration, failed nodes and error summary, filtered by status, user and
 * conversation; an execution's node tree (GET /api/v1/executions/:id) with a
 * link to its trace waterfall.
 */
import { get } from '../api';
import { Empty, ErrorBox, Link, Loading, Time, useAsync, useRange } from '../components/common';
import { fmtDuration, fmtNum } from '../format';
import { setQuery, useLocation } from '../router';

interface Execution {
  id: string;
  conversation_id: string | null;
  user_id: string | null;
  request_message: string | null;
  response_message: string | null;
  status: string;
  started_at: string;
  completed_at: string | null;
  total_duration_ms: number | null;
  failed_nodes: string[];
  error_summary: string | null;
  root_name: string;
  root_service: string;
  span_count: number;
}

interface ExecutionNode {
  node: string;
  span_id: string;
  parent_span_id: string;
  service: string;
  status: string;
  execution_time_ms: number;
  started_at: string;
  error?: string | null;
  depth: number;
}

const PAGE = 50;

function statusClass(s: string): string {
  return s === 'failed' ? 'state state-failed' : s === 'partial' || s === 'running' ? 'state state-pending' : 'state state-normal';
}

export function ExecutionDetail({ id }: { id: string }) {
  const r = useAsync((signal) => get<Execution & { execution_trace: ExecutionNode[] }>(`/api/v1/executions/${id}`, undefined, signal), [id]);
  if (r.error) return <ErrorBox error={r.error} />;
  if (!r.data) return <Loading when />;
  const e = r.data;
  return (
    <section class="page execution" data-testid="execution" data-execution-id={id}>
      <p class="crumbs">
        <Link href="/ui/executions">Executions</Link> / <code>{id}</code>
      </p>
      <h1>
        <span class="svc">{e.root_service}</span> {e.root_name} <span class={statusClass(e.status)}>{e.status}</span>
      </h1>
      <dl class="kv">
        <dt>Started</dt>
        <dd>
          <Time ms={Date.parse(e.started_at)} withMs />
        </dd>
        <dt>Duration</dt>
        <dd>{fmtDuration(e.total_duration_ms)}</dd>
        <dt>User</dt>
        <dd>{e.user_id ?? '—'}</dd>
        <dt>Conversation</dt>
        <dd>{e.conversation_id ? <Link href={`/ui/executions?conversation_id=${encodeURIComponent(e.conversation_id)}`}>{e.conversation_id}</Link> : '—'}</dd>
        <dt>Request</dt>
        <dd class="log-full">{e.request_message ?? '—'}</dd>
        <dt>Response</dt>
        <dd class="log-full">{e.response_message ?? '—'}</dd>
        {e.error_summary && (
          <>
            <dt>Error</dt>
            <dd class="err">⚠ {e.error_summary}</dd>
          </>
        )}
      </dl>
      <p>
        <Link href={`/ui/traces/${id}`}>Open the trace waterfall</Link>
      </p>
      <h2>Node tree ({fmtNum(e.execution_trace.length)} nodes)</h2>
      <ul class="node-tree" data-testid="execution-tree" role="tree" aria-label="Execution nodes">
        {e.execution_trace.map((n) => (
          <li key={n.span_id} role="treeitem" aria-level={n.depth} data-depth={n.depth} style={{ paddingLeft: `${(n.depth - 1) * 18}px` }} class={n.status === 'failed' ? 'err-node' : undefined}>
            <Link href={`/ui/traces/${id}?span=${n.span_id}`}>{n.node}</Link> <span class="svc">{n.service}</span> <span class={statusClass(n.status)}>{n.status === 'failed' ? '⚠ failed' : n.status}</span>{' '}
            <span class="hint">{fmtDuration(n.execution_time_ms)}</span>
            {n.error && <span class="err"> {n.error}</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}

export function Executions() {
  const { range } = useRange();
  const { query } = useLocation();
  const status = query.get('status') ?? '';
  const user = query.get('user_id') ?? '';
  const conversation = query.get('conversation_id') ?? '';
  const offset = Math.max(0, Number(query.get('offset') ?? 0) || 0);
  // The API's window is the last `hours` (1 … 720) before now.
  const hours = Math.min(720, Math.max(1, Math.ceil((Date.now() - range.fromMs) / 3_600_000)));
  const r = useAsync(
    (signal) =>
      get<{ total: number; executions: Execution[] }>('/api/v1/executions', { hours, status, user_id: user, conversation_id: conversation, limit: PAGE, offset }, signal),
    [hours, status, user, conversation, offset, range.toMs],
  );
  return (
    <section class="page executions">
      <h1>Executions</h1>
      <form class="filters" role="search" aria-label="Execution filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Status
          <select name="status" value={status} onChange={(e) => setQuery({ status: (e.target as HTMLSelectElement).value, offset: undefined })}>
            <option value="">any</option>
            {['completed', 'failed', 'partial', 'running'].map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          User
          <input name="user_id" value={user} onChange={(e) => setQuery({ user_id: (e.target as HTMLInputElement).value.trim(), offset: undefined })} />
        </label>
        <label>
          Conversation
          <input name="conversation_id" value={conversation} onChange={(e) => setQuery({ conversation_id: (e.target as HTMLInputElement).value.trim(), offset: undefined })} />
        </label>
        <span class="hint">the last {hours} h (a trace is an execution; its root span the execution itself)</span>
      </form>
      <ErrorBox error={r.error} />
      <Loading when={r.loading} />
      {r.data && r.data.executions.length === 0 && <Empty>No executions in this window.</Empty>}
      {r.data && r.data.executions.length > 0 && (
        <>
          <table class="grid" data-testid="execution-list">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Execution</th>
                <th scope="col">Status</th>
                <th scope="col" class="num">
                  Duration
                </th>
                <th scope="col">Failed nodes</th>
                <th scope="col">Error</th>
                <th scope="col">User</th>
              </tr>
            </thead>
            <tbody>
              {r.data.executions.map((e) => (
                <tr key={e.id} data-execution-id={e.id} class={e.status === 'failed' ? 'has-error' : undefined}>
                  <td>
                    <Time ms={Date.parse(e.started_at)} />
                  </td>
                  <td>
                    <Link href={`/ui/executions/${e.id}`}>
                      <span class="svc">{e.root_service}</span> {e.root_name}
                    </Link>
                  </td>
                  <td>
                    <span class={statusClass(e.status)}>{e.status}</span>
                  </td>
                  <td class="num">{fmtDuration(e.total_duration_ms)}</td>
                  <td>{e.failed_nodes.join(', ') || '—'}</td>
                  <td class="err-summary">{e.error_summary ?? ''}</td>
                  <td>{e.user_id ?? '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <p class="hint">
            {fmtNum(offset + 1)}–{fmtNum(offset + r.data.executions.length)} of {fmtNum(r.data.total)}{' '}
            {offset > 0 && (
              <button type="button" onClick={() => setQuery({ offset: String(Math.max(0, offset - PAGE)) }, { replace: false })}>
                Newer
              </button>
            )}{' '}
            {offset + PAGE < r.data.total && (
              <button type="button" onClick={() => setQuery({ offset: String(offset + PAGE) }, { replace: false })}>
                Older
              </button>
            )}
          </p>
        </>
      )}
    </section>
  );
}
