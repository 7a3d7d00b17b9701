/**
 * Alerts: instances with acknowledge, rules (enable/disable, a rule form with
 * a preview chart before saving), history and deliveries.
 */
import { useMemo, useState } from 'preact/hooks';
import { api, get, type AlertView } from '../api';
import { Chart, alignSeries } from '../components/Chart';
import { Empty, ErrorBox, Loading, Tabs, Time, useAsync, useRange } from '../components/common';
import { fmtNum } from '../format';
import { setQuery, useLocation } from '../router';

type Tab = 'alerts' | 'rules' | 'history' | 'deliveries';

interface RuleView {
  id: string;
  name: string;
  severity: string;
  enabled: boolean;
  description: string;
  builtin: boolean;
  condition: { signal: string; filters?: Record<string, string>; group_by?: string[]; window: string; operator?: string; threshold?: number; min_count?: number };
  interval: string;
  for: string;
  health: { last_eval_at: string | null; next_eval_at: string; consecutive_failures: number; last_error: string | null };
}

interface PreviewResult {
  from: string;
  to: string;
  interval_s: number;
  evaluations: number;
  series: Array<{ labels: Record<string, string>; points: Array<{ t: string; value: number | null; state: string }>; fired_at: string[]; resolved_at: string[] }>;
}

const labelText = (labels: Record<string, string>, skip: string[] = ['alertname', 'severity']): string =>
  Object.entries(labels)
    .filter(([k]) => !skip.includes(k))
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

const ms = (s: string | null | undefined): number => (s ? Date.parse(s) : NaN);

function AlertList() {
  const { tick } = useRange();
  const { query } = useLocation();
  const state = query.get('state') ?? 'active';
  const r = useAsync((signal) => get<{ alerts: AlertView[] }>('/api/v1/alerts', { state }, signal), [state, tick]);
  const [acking, setAcking] = useState<string | null>(null);
  const [comment, setComment] = useState('');
  const [err, setErr] = useState<Error | undefined>();
  const ack = async (id: string): Promise<void> => {
    setErr(undefined);
    try {
      await api('POST', `/api/v1/alerts/${id}/ack`, { body: { by: 'dashboard', comment } });
      setAcking(null);
      setComment('');
      r.reload();
    } catch (e) {
      setErr(e as Error);
    }
  };
  return (
    <div>
      <div class="filters">
        <label>
          State
          <select name="state" value={state} onChange={(e) => setQuery({ state: (e.target as HTMLSelectElement).value })}>
            {['active', 'firing', 'pending', 'nodata', 'error', 'normal', 'all'].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorBox error={r.error ?? err} />
      <Loading when={r.loading} />
      {r.data && r.data.alerts.length === 0 && <Empty>No alerts in state “{state}”.</Empty>}
      {r.data && r.data.alerts.length > 0 && (
        <table class="grid" data-testid="alert-instances">
          <thead>
            <tr>
              <th scope="col">State</th>
              <th scope="col">Rule</th>
              <th scope="col">Series</th>
              <th scope="col" class="num">
                Value
              </th>
              <th scope="col">Since</th>
              <th scope="col">Acknowledged</th>
            </tr>
          </thead>
          <tbody>
            {r.data.alerts.map((a) => (
              <tr key={a.id} data-alert-id={a.id}>
                <td>
                  <span class={`state state-${a.state}`}>{a.state}</span> <span class={`sev sev-${a.severity}`}>{a.severity}</span>
                </td>
                <td>{a.rule_name}</td>
                <td class="labels">{labelText(a.labels) || '—'}</td>
                <td class="num">{a.value === null ? '—' : fmtNum(a.value, 4)}</td>
                <td>
                  <Time ms={ms(a.firing_at ?? a.active_at ?? a.state_changed_at)} />
                </td>
                <td>
                  {a.acknowledged_at ? (
                    <span title={a.ack_comment ?? ''}>
                      by {a.acknowledged_by || '—'} <Time ms={ms(a.acknowledged_at)} />
                    </span>
                  ) : acking === a.id ? (
                    <form
                      class="inline"
                      onSubmit={(e) => {
                        e.preventDefault();
                        void ack(a.id);
                      }}
                    >
                      <input aria-label="Comment" placeholder="comment (optional)" value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} autoFocus />
                      <button type="submit">Acknowledge</button>
                      <button type="button" onClick={() => setAcking(null)}>
                        Cancel
                      </button>
                    </form>
                  ) : a.state !== 'normal' ? (
                    <button type="button" onClick={() => setAcking(a.id)} data-testid="ack">
                      Acknowledge…
                    </button>
                  ) : (
                    '—'
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

const SIGNALS = ['error_rate', 'error_count', 'request_rate', 'latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms', 'cost_usd', 'tokens', 'absence'];

interface Draft {
  name: string;
  severity: string;
  signal: string;
  service: string;
  operation: string;
  model: string;
  group_by: string;
  window: string;
  operator: string;
  threshold: string;
  min_count: string;
  for: string;
}

const EMPTY_DRAFT: Draft = { name: '', severity: 'warning', signal: 'error_rate', service: '', operation: '', model: '', group_by: 'service', window: '5m', operator: '>', threshold: '0.05', min_count: '20', for: '5m' };

function draftToRule(d: Draft): Record<string, unknown> {
  const filters: Record<string, string> = {};
  if (d.service.trim()) filters.service = d.service.trim();
  if (d.operation.trim()) filters.operation = d.operation.trim();
  if (d.model.trim()) filters.model = d.model.trim();
  const condition: Record<string, unknown> = { signal: d.signal, filters, group_by: d.group_by ? [d.group_by] : [], window: d.window };
  if (d.threshold.trim() !== '') condition.threshold = Number(d.threshold);
  if (d.signal !== 'absence') condition.operator = d.operator;
  if (d.min_count.trim() !== '') condition.min_count = Number(d.min_count);
  return { name: d.name.trim() || 'untitled rule', severity: d.severity, condition, for: d.for };
}

function PreviewChart({ p, threshold }: { p: PreviewResult; threshold: number | undefined }) {
  const view = useMemo(() => {
    const fromS = Math.floor(Date.parse(p.from) / 1000);
    const toS = Math.ceil(Date.parse(p.to) / 1000);
    const pts = p.series.flatMap((s, i) => s.points.map((pt) => ({ t: pt.t, group: String(i), value: pt.value })));
    const a = alignSeries(pts, fromS, toS + p.interval_s, p.interval_s, (x) => x.value);
    const series = p.series.slice(0, 8).map((s, i) => ({ label: labelText(s.labels, []) || 'all', values: a.groups.get(String(i)) ?? a.x.map(() => null) }));
    if (threshold !== undefined && Number.isFinite(threshold)) series.push({ label: 'threshold', values: a.x.map(() => threshold), color: '#888888' } as never);
    const marks = p.series.flatMap((s) => [...s.fired_at.map((t) => ({ t: Date.parse(t) / 1000, color: '#D55E00' })), ...s.resolved_at.map((t) => ({ t: Date.parse(t) / 1000, color: '#009E73' }))]);
    return { x: a.x, series, marks };
  }, [p, threshold]);
  const fired = p.series.reduce((n, s) => n + s.fired_at.length, 0);
  return (
    <div data-testid="preview">
      <p class="hint">
        {fmtNum(p.evaluations)} evaluations every {p.interval_s} s · {p.series.length} series · would have fired {fired} time{fired === 1 ? '' : 's'} (dashed
        vermillion lines; resolutions in green)
      </p>
      <Chart x={view.x} series={view.series} marks={view.marks} label="rule preview" testId="preview-chart" height={200} />
    </div>
  );
}

function RuleForm({ onSaved }: { onSaved: () => void }) {
  const { range } = useRange();
  const [d, setD] = useState<Draft>(EMPTY_DRAFT);
  const [preview, setPreview] = useState<PreviewResult | undefined>();
  const [err, setErr] = useState<Error | undefined>();
  const [busy, setBusy] = useState(false);
  const field = (k: keyof Draft) => ({
    name: k,
    value: d[k],
    onInput: (e: Event) => setD({ ...d, [k]: (e.target as HTMLInputElement).value }),
  });
  const run = async (what: 'preview' | 'save'): Promise<void> => {
    setBusy(true);
    setErr(undefined);
    try {
      if (what === 'preview') {
        const from = Math.max(range.fromMs, range.toMs - 24 * 3_600_000);
        setPreview(await api<PreviewResult>('POST', '/api/v1/alerts/rules/preview', { body: { rule: draftToRule(d), from: new Date(from).toISOString(), to: new Date(range.toMs).toISOString() } }));
      } else {
        await api('POST', '/api/v1/alerts/rules', { body: draftToRule(d) });
        setD(EMPTY_DRAFT);
        setPreview(undefined);
        onSaved();
      }
    } catch (e) {
      setErr(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="card rule-form"
      aria-label="New alert rule"
      onSubmit={(e) => {
        e.preventDefault();
        void run('save');
      }}
    >
      <h3>New rule</h3>
      <div class="filters">
        <label>
          Name
          <input {...field('name')} required />
        </label>
        <label>
          Severity
          <select {...field('severity')} onChange={(e) => setD({ ...d, severity: (e.target as HTMLSelectElement).value })}>
            <option>info</option>
            <option>warning</option>
            <option>critical</option>
          </select>
        </label>
        <label>
          Signal
          <select {...field('signal')} onChange={(e) => setD({ ...d, signal: (e.target as HTMLSelectElement).value })}>
            {SIGNALS.map((s) => (
              <option key={s}>{s}</option>
            ))}
          </select>
        </label>
        {d.signal !== 'absence' && (
          <label>
            Operator
            <select {...field('operator')} onChange={(e) => setD({ ...d, operator: (e.target as HTMLSelectElement).value })}>
              {['>', '>=', '<', '<=', '==', '!='].map((o) => (
                <option key={o}>{o}</option>
              ))}
            </select>
          </label>
        )}
        <label>
          Threshold{d.signal === 'error_rate' ? ' (fraction: 5 % is 0.05)' : ''}
          <input {...field('threshold')} inputMode="decimal" size={8} />
        </label>
        <label>
          Window
          <input {...field('window')} size={5} />
        </label>
        <label>
          For
          <input {...field('for')} size={5} />
        </label>
        <label>
          Min spans
          <input {...field('min_count')} inputMode="numeric" size={5} />
        </label>
        <label>
          Group by
          <select {...field('group_by')} onChange={(e) => setD({ ...d, group_by: (e.target as HTMLSelectElement).value })}>
            <option value="">nothing</option>
            <option value="service">service</option>
            <option value="operation">operation</option>
            <option value="model">model</option>
            <option value="provider">provider</option>
          </select>
        </label>
        <label>
          Service filter
          <input {...field('service')} />
        </label>
        <label>
          Operation filter
          <input {...field('operation')} />
        </label>
        <label>
          Model filter
          <input {...field('model')} />
        </label>
      </div>
      <div class="buttons">
        <button type="button" disabled={busy} onClick={() => void run('preview')} data-testid="preview-rule">
          Preview over the range
        </button>
        <button type="submit" disabled={busy}>
          Save rule
        </button>
      </div>
      <ErrorBox error={err} />
      {preview && <PreviewChart p={preview} threshold={d.threshold.trim() === '' ? undefined : Number(d.threshold)} />}
    </form>
  );
}

function RuleList() {
  const { tick } = useRange();
  const r = useAsync((signal) => get<{ rules: RuleView[] }>('/api/v1/alerts/rules', undefined, signal), [tick]);
  const [err, setErr] = useState<Error | undefined>();
  const [showForm, setShowForm] = useState(false);
  const [previewOf, setPreviewOf] = useState<{ id: string; p: PreviewResult; threshold?: number } | undefined>();
  const { range } = useRange();
  const toggle = async (rule: RuleView): Promise<void> => {
    setErr(undefined);
    try {
      await api('PATCH', `/api/v1/alerts/rules/${rule.id}`, { body: { enabled: !rule.enabled } });
      r.reload();
    } catch (e) {
      setErr(e as Error);
    }
  };
  const previewSaved = async (rule: RuleView): Promise<void> => {
    setErr(undefined);
    try {
      const from = Math.max(range.fromMs, range.toMs - 24 * 3_600_000);
      const p = await api<PreviewResult>('POST', '/api/v1/alerts/rules/preview', { body: { rule_id: rule.id, from: new Date(from).toISOString(), to: new Date(range.toMs).toISOString() } });
      setPreviewOf({ id: rule.id, p, threshold: rule.condition.threshold });
    } catch (e) {
      setErr(e as Error);
    }
  };
  return (
    <div>
      <button type="button" onClick={() => setShowForm(!showForm)} aria-expanded={showForm}>
        {showForm ? 'Close the new rule form' : 'New rule…'}
      </button>
      {showForm && <RuleForm onSaved={() => (setShowForm(false), r.reload())} />}
      <ErrorBox error={r.error ?? err} />
      <Loading when={r.loading} />
      {r.data && r.data.rules.length === 0 && <Empty>No rules yet.</Empty>}
      {r.data && r.data.rules.length > 0 && (
        <table class="grid" data-testid="alert-rules">
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Condition</th>
              <th scope="col">Health</th>
              <th scope="col">Enabled</th>
              <th scope="col">Preview</th>
            </tr>
          </thead>
          <tbody>
            {r.data.rules.map((rule) => (
              <>
                <tr key={rule.id} data-rule-id={rule.id}>
                  <td>
                    <span class={`sev sev-${rule.severity}`}>{rule.severity}</span> <b>{rule.name}</b>
                    {rule.builtin && <span class="tag">built-in</span>}
                  </td>
                  <td>
                    <code>
                      {rule.condition.signal}
                      {rule.condition.filters && Object.keys(rule.condition.filters).length > 0 ? `{${labelText(rule.condition.filters, [])}}` : ''} over {rule.condition.window}{' '}
                      {rule.condition.operator ?? ''} {rule.condition.threshold ?? ''}
                      {rule.condition.group_by?.length ? ` by ${rule.condition.group_by.join(', ')}` : ''} for {rule.for}
                    </code>
                  </td>
                  <td>
                    {rule.health.last_eval_at ? (
                      <>
                        evaluated <Time ms={ms(rule.health.last_eval_at)} />
                      </>
                    ) : (
                      'not evaluated yet'
                    )}
                    {rule.health.consecutive_failures > 0 && <span class="err"> ⚠ {rule.health.last_error}</span>}
                  </td>
                  <td>
                    <label class="switch">
                      <input type="checkbox" checked={rule.enabled} onChange={() => void toggle(rule)} aria-label={`Enable ${rule.name}`} />
                      {rule.enabled ? 'on' : 'off'}
                    </label>
                  </td>
                  <td>
                    <button type="button" onClick={() => void previewSaved(rule)}>
                      Preview
                    </button>
                  </td>
                </tr>
                {previewOf?.id === rule.id && (
                  <tr key={`${rule.id}-preview`}>
                    <td colSpan={5}>
                      <PreviewChart p={previewOf.p} threshold={previewOf.threshold} />
                    </td>
                  </tr>
                )}
              </>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

interface EventView {
  id: number;
  rule_name: string;
  severity: string;
  labels: Record<string, string>;
  from_state: string;
  to_state: string;
  value: number | null;
  at: string;
  notification: string;
}

function History() {
  const { range } = useRange();
  const r = useAsync((signal) => get<{ events: EventView[] }>('/api/v1/alerts/history', { from: range.fromMs, to: range.toMs, limit: 500 }, signal), [range.fromMs, range.toMs]);
  return (
    <div>
      <ErrorBox error={r.error} />
      <Loading when={r.loading} />
      {r.data && r.data.events.length === 0 && <Empty>No alert transitions in this range.</Empty>}
      {r.data && r.data.events.length > 0 && (
        <table class="grid" data-testid="alert-history">
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Rule</th>
              <th scope="col">Series</th>
              <th scope="col">Transition</th>
              <th scope="col" class="num">
                Value
              </th>
              <th scope="col">Notification</th>
            </tr>
          </thead>
          <tbody>
            {r.data.events.map((e) => (
              <tr key={e.id}>
                <td>
                  <Time ms={ms(e.at)} />
                </td>
                <td>{e.rule_name}</td>
                <td class="labels">{labelText(e.labels) || '—'}</td>
                <td>
                  <span class={`state state-${e.from_state}`}>{e.from_state}</span> → <span class={`state state-${e.to_state}`}>{e.to_state}</span>
                </td>
                <td class="num">{e.value === null ? '—' : fmtNum(e.value, 4)}</td>
                <td>{e.notification}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

interface DeliveryView {
  id: number;
  channel_id: string;
  kind: string;
  status: string;
  attempts: number;
  next_attempt_at: string;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
}

function Deliveries() {
  const { tick } = useRange();
  const r = useAsync((signal) => get<{ deliveries: DeliveryView[] }>('/api/v1/alerts/deliveries', { limit: 200 }, signal), [tick]);
  return (
    <div>
      <ErrorBox error={r.error} />
      <Loading when={r.loading} />
      {r.data && r.data.deliveries.length === 0 && <Empty>No notifications were queued.</Empty>}
      {r.data && r.data.deliveries.length > 0 && (
        <table class="grid" data-testid="alert-deliveries">
          <thead>
            <tr>
              <th scope="col">Queued</th>
              <th scope="col">Kind</th>
              <th scope="col">Channel</th>
              <th scope="col">Status</th>
              <th scope="col" class="num">
                Attempts
              </th>
              <th scope="col">Last answer</th>
            </tr>
          </thead>
          <tbody>
            {r.data.deliveries.map((d) => (
              <tr key={d.id}>
                <td>
                  <Time ms={ms(d.created_at)} />
                </td>
                <td>{d.kind}</td>
                <td>
                  <code>{d.channel_id.slice(0, 8)}</code>
                </td>
                <td>
                  <span class={`state state-${d.status}`}>{d.status}</span>
                  {d.status === 'pending' && (
                    <>
                      {' '}
                      next <Time ms={ms(d.next_attempt_at)} />
                    </>
                  )}
                </td>
                <td class="num">{d.attempts}</td>
                <td>
                  {d.last_status_code ?? ''} {d.last_error ?? ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function Alerts() {
  const { query } = useLocation();
  const tab = (query.get('tab') as Tab | null) ?? 'alerts';
  return (
    <section class="page alerts">
      <h1>Alerts</h1>
      <Tabs<Tab>
        label="Alert views"
        tabs={[
          ['alerts', 'Alerts'],
          ['rules', 'Rules'],
          ['history', 'History'],
          ['deliveries', 'Deliveries'],
        ]}
        value={tab}
        onChange={(t) => setQuery({ tab: t === 'alerts' ? undefined : t })}
      />
      <div role="tabpanel">
        {tab === 'alerts' && <AlertList />}
        {tab === 'rules' && <RuleList />}
        {tab === 'history' && <History />}
        {tab === 'deliveries' && <Deliveries />}
      </div>
    </section>
  );
}

