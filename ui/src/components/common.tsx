/** Small shared components and hooks. Text is always rendered as text (preact escapes it). */
import type { ComponentChildren } from 'preact';
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { localTime, utcTitle } from '../format';
import { linkClick } from '../router';
import type { Range } from '../time';

/** The page's resolved time range and a way to refresh it. */
export interface RangeContextValue {
  range: Range;
  /** Increments on every refresh (re-run queries). */
  tick: number;
  refresh: () => void;
}

export const RangeContext = createContext<RangeContextValue>(null as unknown as RangeContextValue);
export const useRange = (): RangeContextValue => useContext(RangeContext);

export interface AsyncState<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean;
  reload: () => void;
}

/** Run `fn` whenever `deps` change; the previous run is aborted. */
export function useAsync<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): AsyncState<T> {
  const [state, setState] = useState<{ data?: T; error?: Error; loading: boolean }>({ loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    fn(ac.signal).then(
      (data) => {
        if (!ac.signal.aborted) setState({ data, loading: false });
      },
      (error: unknown) => {
        if (!ac.signal.aborted) setState({ error: error instanceof Error ? error : new Error(String(error)), loading: false });
      },
    );
    return () => ac.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, n]);
  return { data: state.data, error: state.error, loading: state.loading, reload: () => setN((x) => x + 1) };
}

/** A time in the browser's zone with the UTC time on hover. */
export function Time({ ms, withMs }: { ms: number; withMs?: boolean }) {
  if (!Number.isFinite(ms)) return <span>—</span>;
  return (
    <time dateTime={new Date(ms).toISOString()} title={utcTitle(ms)}>
      {localTime(ms, withMs)}
    </time>
  );
}

export function ErrorBox({ error }: { error: Error | undefined }) {
  if (error === undefined) return null;
  const code = error instanceof ApiError ? `${error.code}: ` : '';
  return (
    <div class="error-box" role="alert">
      {code}
      {error.message}
    </div>
  );
}

export function Loading({ when }: { when: boolean }) {
  return when ? (
    <span class="loading" role="status">
      loading…
    </span>
  ) : null;
}

/** An in-app link (no reload on a plain click). */
export function Link({ href, children, class: cls, title }: { href: string; children: ComponentChildren; class?: string; title?: string }) {
  return (
    <a href={href} onClick={linkClick} class={cls} title={title}>
      {children}
    </a>
  );
}

export function Tabs<T extends string>({ tabs, value, onChange, label }: { tabs: Array<[T, string]>; value: T; onChange: (t: T) => void; label: string }) {
  const refs = useRef<Array<HTMLButtonElement | null>>([]);
  const onKey = (e: KeyboardEvent, i: number): void => {
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (d === 0) return;
    e.preventDefault();
    const j = (i + d + tabs.length) % tabs.length;
    onChange(tabs[j]![0]);
    refs.current[j]?.focus();
  };
  return (
    <div class="tabs" role="tablist" aria-label={label}>
      {tabs.map(([k, text], i) => (
        <button
          key={k}
          ref={(el) => {
            refs.current[i] = el;
          }}
          role="tab"
          type="button"
          aria-selected={value === k}
          tabIndex={value === k ? 0 : -1}
          class={value === k ? 'tab active' : 'tab'}
          onClick={() => onChange(k)}
          onKeyDown={(e) => onKey(e, i)}
        >
          {text}
        </button>
      ))}
    </div>
  );
}

/** A labelled stat. */
export function Stat({ label, value, title, testId }: { label: string; value: ComponentChildren; title?: string; testId?: string }) {
  return (
    <div class="stat" title={title}>
      <div class="stat-label">{label}</div>
      <div class="stat-value" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="empty">{children}</p>;
}

/** Debounce a value (for filters typed into inputs). */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}
