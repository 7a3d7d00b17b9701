/**
 * A virtualised list of fixed-height rows: only the rows in view (plus a few)
 * are in the DOM, so 10,000 spans or log records scroll smoothly.
 */
import type { ComponentChildren, Ref } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  /** CSS height of the scroll box (e.g. '60vh'). */
  height: string;
  renderRow: (index: number) => ComponentChildren;
  onScroll?: (el: HTMLDivElement) => void;
  /** Receives the scroll element (to scroll a row into view, or to the end). */
  boxRef?: Ref<HTMLDivElement>;
  label: string;
  testId?: string;
  role?: 'list' | 'tree' | 'grid' | 'log';
  onKeyDown?: (e: KeyboardEvent) => void;
  /** id of the active row element (aria-activedescendant) when the list takes keyboard focus. */
  activeId?: string;
}

const OVERSCAN = 8;

export function VirtualList({ count, rowHeight, height, renderRow, onScroll, boxRef, label, testId, role = 'list', onKeyDown, activeId }: VirtualListProps) {
  const el = useRef<HTMLDivElement | null>(null);
  const [top, setTop] = useState(0);
  const [view, setView] = useState(600);

  useLayoutEffect(() => {
    const e = el.current;
    if (e === null) return;
    setView(e.clientHeight || 600);
    const ro = new ResizeObserver(() => setView(e.clientHeight || 600));
    ro.observe(e);
    return () => ro.disconnect();
  }, []);
  useEffect(() => {
    if (boxRef === undefined || boxRef === null) return;
    if (typeof boxRef === 'function') boxRef(el.current);
    else boxRef.current = el.current;
  });

  const first = Math.max(0, Math.floor(top / rowHeight) - OVERSCAN);
  const last = Math.min(count, Math.ceil((top + view) / rowHeight) + OVERSCAN);
  const rows: ComponentChildren[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div key={i} class="vrow" style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px` }}>
        {renderRow(i)}
      </div>,
    );
  }
  return (
    <div
      ref={el}
      class="vlist"
      style={{ height }}
      role={role}
      aria-label={label}
      data-testid={testId}
      data-count={count}
      onKeyDown={onKeyDown}
      tabIndex={onKeyDown ? 0 : undefined}
      aria-activedescendant={activeId}
      onScroll={(e) => {
        const t = e.currentTarget as HTMLDivElement;
        setTop(t.scrollTop);
        onScroll?.(t);
      }}
    >
      <div class="vlist-inner" style={{ height: `${count * rowHeight}px` }}>
        {rows}
      </div>
    </div>
  );
}
