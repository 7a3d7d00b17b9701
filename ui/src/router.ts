/**
 * A small History-API router: the page is the path under /ui/, the filters
 * and the time range live in the query string so that a URL can be shared.
 */
import { useEffect, useState } from 'preact/hooks';

const NAV_EVENT = 'vigil:navigate';

export interface Loc {
  path: string;
  query: URLSearchParams;
}

function current(): Loc {
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Go to `href` (a path with an optional query) without reloading. */
export function navigate(href: string, opts: { replace?: boolean } = {}): void {
  if (href === location.pathname + location.search) return;
  if (opts.replace) history.replaceState(null, '', href);
  else history.pushState(null, '', href);
  window.dispatchEvent(new Event(NAV_EVENT));
}

/** The current location; re-renders on navigation. */
export function useLocation(): Loc {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = (): void => setLoc(current());
    window.addEventListener('popstate', update);
    window.addEventListener(NAV_EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(NAV_EVENT, update);
    };
  }, []);
  return loc;
}

/**
 * Change some query parameters of the current URL (undefined or '' removes
 * one). `replace` (default) rewrites the history entry, as typing a filter should.
 */
export function setQuery(patch: Record<string, string | undefined | null>, opts: { replace?: boolean; path?: string } = {}): void {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === null || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  navigate(`${opts.path ?? location.pathname}${s ? `?${s}` : ''}`, { replace: opts.replace ?? true });
}

/** The shared query parameters (time range) to carry from page to page. */
export function sharedQuery(query: URLSearchParams): string {
  const q = new URLSearchParams();
  for (const k of ['from', 'to']) {
    const v = query.get(k);
    if (v) q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Click handler for in-app links: plain left clicks navigate without a reload. */
export function linkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.currentTarget as HTMLAnchorElement | null) ?? null;
  if (a === null || a.target === '_blank') return;
  e.preventDefault();
  navigate(a.getAttribute('href') ?? '/ui/');
}
