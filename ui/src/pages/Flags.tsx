/**
 * Feature flags and experiments: flags with an on/off toggle and the
 * fallthrough rollout (weights per variant), each flag's change history, and
 * the variant comparison of an experiment (requests, error rate, latency,
 * cost per request; significance per the API's tests).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, get } from '../api';
import { Empty, ErrorBox, Link, Loading, Time, useAsync, useRange } from '../components/common';
import { fmtDuration, fmtNum, fmtPct, fmtUsd, show } from '../format';
import { setQuery, useLocation } from '../router';

interface FlagView {
  key: string;
  description: string;
  type: string;
  variants: Record<string, unknown>;
  default_variant: string;
  enabled: boolean;
  rules: Array<{ name?: string }>;
  fallthrough?: { variant?: string; rollout?: Array<{ variant: string; weight: number }> };
  version: number;
  updated_at: string;
}

interface Comparison {
  test: string;
  control: number;
  variant: number;
  difference: number;
  relative: number | null;
  ci_low: number | null;
  ci_high: number | null;
  p_value: number | null;
  significant: boolean;
  sample: 'ok' | 'too_small';
  note?: string;
}

interface Results {
  flag: string;
  from: string;
  to: string;
  control: string;
  confidence: number;
  variants: Array<{
    variant: string;
    requests: number;
    errors: number;
    error_rate: number;
    latency_ms: { mean: number; stddev: number; p50: number; p95: number; p99: number };
    cost_usd: { total: number; per_request: number; stddev: number };
  }>;
  comparisons: Array<{ variant: string; control: string; error_rate: Comparison; latency_mean_ms: Comparison; cost_per_request_usd: Comparison }>;
  notes: string[];
}

interface Experiment {
  id: string;
  name: string;
  flag_key: string;
  hypothesis: string;
  control_variant: string | null;
  status: string;
  start_at: string | null;
  end_at: string | null;
}

function RolloutEditor({ flag, onSaved }: { flag: FlagView; onSaved: () => void }) {
  const variants = Object.keys(flag.variants);
  const initial = (): Record<string, string> => {
    const w: Record<string, string> = Object.fromEntries(variants.map((v) => [v, '0']));
    if (flag.fallthrough?.rollout) for (const r of flag.fallthrough.rollout) w[r.variant] = String(r.weight);
    else w[flag.fallthrough?.variant ?? flag.default_variant] = '100';
    return w;
  };
  const [weights, setWeights] = useState(initial);
  const [err, setErr] = useState<Error | undefined>();
  const [saved, setSaved] = useState('');
  useEffect(() => setWeights(initial()), [flag.key, flag.version]);
  const sum = Object.values(weights).reduce((s, w) => s + (Number(w) || 0), 0);
  const save = async (e: Event): Promise<void> => {
    e.preventDefault();
    setErr(undefined);
    setSaved('');
    try {
      const rollout = variants.map((v) => ({ variant: v, weight: Number(weights[v]) || 0 })).filter((r) => r.weight > 0);
      const fallthrough = rollout.length === 1 ? { variant: rollout[0]!.variant } : { rollout };
      await api('PATCH', `/api/v1/flags/${encodeURIComponent(flag.key)}`, { body: { fallthrough } });
      setSaved('Saved');
      onSaved();
    } catch (e2) {
      setErr(e2 as Error);
    }
  };
  return (
    <form class="rollout" onSubmit={save} aria-label={`Rollout of ${flag.key}`}>
      <h3>Rollout (when no rule or override matches)</h3>
      {variants.map((v) => (
        <label key={v} class="weight">
          <span>
            {v} <span class="hint">= {show(flag.variants[v])}</span>
          </span>
          <input type="range" min={0} max={100} step={1} value={Number(weights[v]) || 0} onInput={(e) => setWeights({ ...weights, [v]: (e.target as HTMLInputElement).value })} aria-label={`${v} weight (slider)`} />
          <input type="number" min={0} max={100} step={0.01} value={weights[v]} onInput={(e) => setWeights({ ...weights, [v]: (e.target as HTMLInputElement).value })} aria-label={`${v} weight (%)`} size={6} />%
        </label>
      ))}
      <p class={sum === 100 ? 'hint' : 'err'}>Total {fmtNum(sum, 2)} % {sum === 100 ? '' : '(must be 100)'}</p>
      <button type="submit" disabled={Math.abs(sum - 100) > 1e-9}>
        Save rollout
      </button>{' '}
      <span role="status" class="hint">
        {saved}
      </span>
      <ErrorBox error={err} />
    </form>
  );
}

function Changes({ flagKey, version }: { flagKey: string; version: number }) {
  const r = useAsync(
    (signal) => get<{ changes: Array<{ id: number; action: string; actor: string; at: string }> }>(`/api/v1/flags/${encodeURIComponent(flagKey)}/changes`, { limit: 20 }, signal),
    [flagKey, version],
  );
  return (
    <div>
      <h3>Changes</h3>
      <ErrorBox error={r.error} />
      <ul class="changes">
        {(r.data?.changes ?? []).map((c) => (
          <li key={c.id}>
            <Time ms={Date.parse(c.at)} /> {c.action} by {c.actor}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Cmp({ c, fmt }: { c: Comparison; fmt: (v: number) => string }) {
  if (c.sample === 'too_small') return <span class="hint" title={c.note ?? ''}>too small to judge</span>;
  const sign = c.difference > 0 ? '+' : '';
  return (
    <span class={c.significant ? 'significant' : undefined} title={`${c.test}; p = ${c.p_value === null ? '—' : c.p_value.toPrecision(3)}`}>
      {sign}
      {fmt(c.difference)}
      {c.ci_low !== null && c.ci_high !== null && (
        <span class="hint">
          {' '}
          [{fmt(c.ci_low)}, {fmt(c.ci_high)}]
        </span>
      )}{' '}
      {c.significant ? <b>significant</b> : <span class="hint">not significant</span>}
    </span>
  );
}

export function ExperimentResults({ flagKey }: { flagKey: string }) {
  const { range } = useRange();
  const r = useAsync((signal) => get<Results>(`/api/v1/experiments/${encodeURIComponent(flagKey)}`, { from: range.fromMs, to: range.toMs }, signal), [flagKey, range.fromMs, range.toMs]);
  return (
    <section aria-label={`Variant comparison of ${flagKey}`} data-testid="experiment-results">
      <h3>Variant comparison over the range</h3>
      <ErrorBox error={r.error} />
      <Loading when={r.loading} />
      {r.data && (
        <>
          <table class="grid">
            <thead>
              <tr>
                <th scope="col">Variant</th>
                <th scope="col" class="num">
                  Requests
                </th>
                <th scope="col" class="num">
                  Error rate
                </th>
                <th scope="col" class="num">
                  Mean
                </th>
                <th scope="col" class="num">
                  p50
                </th>
                <th scope="col" class="num">
                  p95
                </th>
                <th scope="col" class="num">
                  p99
                </th>
                <th scope="col" class="num">
                  Cost / request
                </th>
              </tr>
            </thead>
            <tbody>
              {r.data.variants.map((v) => (
                <tr key={v.variant} data-variant={v.variant}>
                  <th scope="row">
                    {v.variant}
                    {v.variant === r.data!.control && <span class="tag">control</span>}
                  </th>
                  <td class="num">{fmtNum(v.requests)}</td>
                  <td class="num">{fmtPct(v.error_rate)}</td>
                  <td class="num">{fmtDuration(v.latency_ms.mean)}</td>
                  <td class="num">{fmtDuration(v.latency_ms.p50)}</td>
                  <td class="num">{fmtDuration(v.latency_ms.p95)}</td>
                  <td class="num">{fmtDuration(v.latency_ms.p99)}</td>
                  <td class="num">{fmtUsd(v.cost_usd.per_request)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {r.data.comparisons.length > 0 && (
            <table class="grid">
              <caption>Compared with the control at {Math.round(r.data.confidence * 100)} % confidence</caption>
              <thead>
                <tr>
                  <th scope="col">Variant</th>
                  <th scope="col">Error rate</th>
                  <th scope="col">Mean latency</th>
                  <th scope="col">Cost per request</th>
                </tr>
              </thead>
              <tbody>
                {r.data.comparisons.map((c) => (
                  <tr key={c.variant}>
                    <th scope="row">
                      {c.variant} vs {c.control}
                    </th>
                    <td>
                      <Cmp c={c.error_rate} fmt={(v) => fmtPct(v)} />
                    </td>
                    <td>
                      <Cmp c={c.latency_mean_ms} fmt={(v) => fmtDuration(Math.abs(v)).replace(/^/, v < 0 ? '−' : '')} />
                    </td>
                    <td>
                      <Cmp c={c.cost_per_request_usd} fmt={(v) => (v < 0 ? '−' : '') + fmtUsd(Math.abs(v))} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {r.data.notes.length > 0 && (
            <ul class="notes">
              {r.data.notes.map((n, i) => (
                <li key={i}>{n}</li>
              ))}
            </ul>
          )}
        </>
      )}
    </section>
  );
}

export function Flags() {
  const { tick } = useRange();
  const { query } = useLocation();
  const selectedKey = query.get('flag') ?? '';
  const flags = useAsync((signal) => get<{ flags: FlagView[] }>('/api/v1/flags', undefined, signal), [tick]);
  const experiments = useAsync((signal) => get<{ experiments: Experiment[] }>('/api/v1/experiments', undefined, signal), [tick]);
  const [err, setErr] = useState<Error | undefined>();
  const toggle = async (f: FlagView): Promise<void> => {
    setErr(undefined);
    try {
      await api('PATCH', `/api/v1/flags/${encodeURIComponent(f.key)}`, { body: { enabled: !f.enabled } });
      flags.reload();
    } catch (e) {
      setErr(e as Error);
    }
  };
  const selected = flags.data?.flags.find((f) => f.key === selectedKey);
  return (
    <section class="page flags">
      <h1>Feature flags and experiments</h1>
      <ErrorBox error={flags.error ?? err} />
      <Loading when={flags.loading} />
      {flags.data && flags.data.flags.length === 0 && <Empty>No flags yet: create one with POST /api/v1/flags (see the README).</Empty>}
      {flags.data && flags.data.flags.length > 0 && (
        <table class="grid" data-testid="flag-list">
          <thead>
            <tr>
              <th scope="col">Flag</th>
              <th scope="col">Type</th>
              <th scope="col">Serves</th>
              <th scope="col">Rules</th>
              <th scope="col">Enabled</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {flags.data.flags.map((f) => (
              <tr key={f.key} data-flag={f.key} class={f.key === selectedKey ? 'selected' : undefined}>
                <th scope="row">
                  <Link href={`/ui/flags?flag=${encodeURIComponent(f.key)}`}>{f.key}</Link>
                  {f.description && <div class="hint">{f.description}</div>}
                </th>
                <td>{f.type}</td>
                <td>
                  {!f.enabled
                    ? `${f.default_variant} (disabled)`
                    : f.fallthrough?.rollout
                      ? f.fallthrough.rollout.map((r) => `${r.variant} ${r.weight} %`).join(' · ')
                      : (f.fallthrough?.variant ?? f.default_variant)}
                </td>
                <td class="num">{f.rules.length}</td>
                <td>
                  <label class="switch">
                    <input type="checkbox" checked={f.enabled} onChange={() => void toggle(f)} aria-label={`Enable ${f.key}`} data-testid="flag-toggle" />
                    {f.enabled ? 'on' : 'off'}
                  </label>
                </td>
                <td>
                  <Time ms={Date.parse(f.updated_at)} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {selected && (
        <div class="card flag-detail" data-testid="flag-detail">
          <h2>
            {selected.key}{' '}
            <button type="button" class="link-button" onClick={() => setQuery({ flag: undefined })}>
              close
            </button>
          </h2>
          <div class="two">
            <RolloutEditor flag={selected} onSaved={flags.reload} />
            <Changes flagKey={selected.key} version={selected.version} />
          </div>
          <ExperimentResults flagKey={selected.key} />
        </div>
      )}
      <h2>Experiments</h2>
      <ErrorBox error={experiments.error} />
      {experiments.data && experiments.data.experiments.length === 0 && <Empty>No experiments.</Empty>}
      {experiments.data && experiments.data.experiments.length > 0 && (
        <table class="grid" data-testid="experiment-list">
          <thead>
            <tr>
              <th scope="col">Experiment</th>
              <th scope="col">Flag</th>
              <th scope="col">Status</th>
              <th scope="col">Hypothesis</th>
              <th scope="col">Window</th>
            </tr>
          </thead>
          <tbody>
            {experiments.data.experiments.map((x) => (
              <tr key={x.id}>
                <th scope="row">{x.name}</th>
                <td>
                  <Link href={`/ui/flags?flag=${encodeURIComponent(x.flag_key)}`}>{x.flag_key}</Link>
                </td>
                <td>{x.status}</td>
                <td>{x.hypothesis}</td>
                <td>
                  {x.start_at ? <Time ms={Date.parse(x.start_at)} /> : '—'} → {x.end_at ? <Time ms={Date.parse(x.end_at)} /> : 'now'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
