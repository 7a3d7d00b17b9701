/**
 * Vigil's dashboards: the app shell (API key gate, navigation, time range,
 * theme) and the page router. Served by the query API under /ui/.
 */
import { render } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import './styles.css';
import { ApiError, api, getKey, setKey, setUnauthorizedHandler } from './api';
import { ErrorBox, Link, RangeContext } from './components/common';
import { TimeRangePicker } from './components/TimeRange';
import { sharedQuery, useLocation } from './router';
import { resolveRange } from './time';
import { Overview } from './pages/Overview';
import { Traces } from './pages/Traces';
import { TracePage } from './pages/Trace';
import { Logs } from './pages/Logs';
import { Metrics } from './pages/Metrics';
import { Alerts } from './pages/Alerts';
import { Flags } from './pages/Flags';
import { Anomalies } from './pages/Anomalies';
import { ExecutionDetail, Executions } from './pages/Executions';

type Theme = 'auto' | 'light' | 'dark';

function applyTheme(t: Theme): void {
  if (t === 'auto') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  window.dispatchEvent(new Event('vigil:theme'));
}

function KeyForm({ message }: { message?: string }) {
  const [value, setValue] = useState('');
  const [error, setError] = useState<Error | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const key = value.trim();
    try {
      await api('GET', '/api/v1/traces', { query: { limit: 1, from: 'now-1m' }, key });
      setKey(key);
      window.dispatchEvent(new Event('vigil:key'));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? new Error('This key was not accepted: check it and try again.') : (err as Error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="key-gate" id="main">
      <h1>Vigil</h1>
      <form onSubmit={submit} class="card">
        <label for="api-key">Project API key</label>
        <p class="hint">
          The key <code>vigil start</code> printed (<code>vgl_…</code>). It is kept in this browser tab's session storage and sent only in the
          Authorization header.
        </p>
        {message && <p class="hint">{message}</p>}
        <input id="api-key" name="api-key" type="password" autoComplete="off" spellcheck={false} value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} required autoFocus />
        <button type="submit" disabled={busy || value.trim() === ''}>
          Open dashboards
        </button>
        <ErrorBox error={error} />
      </form>
    </main>
  );
}

/** API capabilities from /openapi.json: a page is shown only when its API exists. */
function useFeatures(): Set<string> | undefined {
  const [features, setFeatures] = useState<Set<string> | undefined>();
  useEffect(() => {
    fetch('/openapi.json')
      .then((r) => r.json() as Promise<{ paths?: Record<string, unknown> }>)
      .then((doc) => setFeatures(new Set(Object.keys(doc.paths ?? {}))))
      .catch(() => setFeatures(new Set()));
  }, []);
  return features;
}

const PAGES = [
  { path: '/ui/', label: 'Overview', needs: undefined },
  { path: '/ui/traces', label: 'Traces', needs: '/api/v1/traces' },
  { path: '/ui/logs', label: 'Logs', needs: '/api/v1/logs' },
  { path: '/ui/metrics', label: 'Latency & cost', needs: '/api/v1/metrics/latency' },
  { path: '/ui/alerts', label: 'Alerts', needs: '/api/v1/alerts' },
  { path: '/ui/flags', label: 'Flags & experiments', needs: '/api/v1/flags' },
  { path: '/ui/anomalies', label: 'Anomalies', needs: '/api/v1/anomalies' },
  { path: '/ui/executions', label: 'Executions', needs: '/api/v1/executions' },
] as const;

function App() {
  const loc = useLocation();
  const [hasKey, setHasKey] = useState(getKey() !== null);
  const [keyMessage, setKeyMessage] = useState<string | undefined>();
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem('vigil.theme') as Theme | null) ?? 'auto');
  const [tick, setTick] = useState(0);
  const features = useFeatures();

  useEffect(() => {
    const onKey = (): void => setHasKey(getKey() !== null);
    window.addEventListener('vigil:key', onKey);
    setUnauthorizedHandler(() => {
      setKey(null);
      setKeyMessage('The API answered 401 for the stored key: enter a valid key.');
      setHasKey(false);
    });
    return () => window.removeEventListener('vigil:key', onKey);
  }, []);
  useEffect(() => {
    applyTheme(theme);
    localStorage.setItem('vigil.theme', theme);
  }, [theme]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      const t = e.target as HTMLElement;
      if (t.closest('input, textarea, select, [contenteditable]') || e.ctrlKey || e.metaKey || e.altKey) return;
      if (e.key === 'r') setTick((x) => x + 1);
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const fromQ = loc.query.get('from');
  const toQ = loc.query.get('to');
  const range = useMemo(() => resolveRange(loc.query, Date.now()), [fromQ, toQ, tick]);
  const ctx = useMemo(() => ({ range, tick, refresh: () => setTick((x) => x + 1) }), [range, tick]);

  if (!hasKey) return <KeyForm message={keyMessage} />;

  const path = loc.path.replace(/\/+$/, '') || '/ui';
  const traceMatch = /^\/ui\/traces\/([0-9a-fA-F]{32})$/.exec(path);
  const execMatch = /^\/ui\/executions\/([0-9a-fA-F]{32})$/.exec(path);
  let page;
  let active = '/ui/';
  if (path === '/ui' || path === '') page = <Overview features={features} />;
  else if (traceMatch) ((page = <TracePage traceId={traceMatch[1]!.toLowerCase()} />), (active = '/ui/traces'));
  else if (path === '/ui/traces') ((page = <Traces />), (active = '/ui/traces'));
  else if (path === '/ui/logs') ((page = <Logs />), (active = '/ui/logs'));
  else if (path === '/ui/metrics') ((page = <Metrics />), (active = '/ui/metrics'));
  else if (path === '/ui/alerts' && features?.has('/api/v1/alerts')) ((page = <Alerts />), (active = '/ui/alerts'));
  else if (path === '/ui/flags' && features?.has('/api/v1/flags')) ((page = <Flags />), (active = '/ui/flags'));
  else if (path === '/ui/anomalies' && features?.has('/api/v1/anomalies')) ((page = <Anomalies />), (active = '/ui/anomalies'));
  else if (path === '/ui/executions' && features?.has('/api/v1/executions')) ((page = <Executions />), (active = '/ui/executions'));
  else if (execMatch && features?.has('/api/v1/executions')) ((page = <ExecutionDetail id={execMatch[1]!.toLowerCase()} />), (active = '/ui/executions'));
  else if (features === undefined) page = <p class="loading">loading…</p>;
  else
    page = (
      <section>
        <h1>Not found</h1>
        <p>
          There is no page at this address. <Link href="/ui/">Go to the overview</Link>.
        </p>
      </section>
    );

  const shared = sharedQuery(loc.query);
  return (
    <RangeContext.Provider value={ctx}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href={`/ui/${shared}`} class="brand">
          Vigil
        </Link>
        <nav aria-label="Pages">
          <ul>
            {PAGES.filter((p) => p.needs === undefined || features?.has(p.needs)).map((p) => (
              <li key={p.path}>
                <Link href={`${p.path}${shared}`} class={active === p.path ? 'active' : undefined}>
                  {p.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div class="top-right">
          <TimeRangePicker />
          <label class="theme-select">
            <span class="sr-only">Theme</span>
            <select value={theme} onChange={(e) => setTheme((e.target as HTMLSelectElement).value as Theme)} title="Theme">
              <option value="auto">Auto theme</option>
              <option value="light">Light</option>
              <option value="dark">Dark</option>
            </select>
          </label>
          <button
            type="button"
            class="link-button"
            onClick={() => {
              setKey(null);
              setKeyMessage(undefined);
              setHasKey(false);
            }}
          >
            Forget key
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </RangeContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
