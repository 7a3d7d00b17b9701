/** The time-range picker: relative presets and an absolute range (browser zone), kept in the URL. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { setQuery } from '../router';
import { PRESETS, rangeLabel, toLocalInput } from '../time';
import { ZONE, localTime, utcTitle } from '../format';
import { useRange } from './common';

export function TimeRangePicker() {
  const { range, refresh } = useRange();
  const [open, setOpen] = useState(false);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    setFrom(toLocalInput(range.fromMs));
    setTo(toLocalInput(range.toMs));
    const onDoc = (e: MouseEvent): void => {
      if (box.current && !box.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDoc);
    return () => document.removeEventListener('mousedown', onDoc);
  }, [open]);

  const pick = (f: string, t = 'now'): void => {
    setQuery({ from: f, to: t === 'now' ? undefined : t }, { replace: false });
    setOpen(false);
  };
  const applyAbsolute = (e: Event): void => {
    e.preventDefault();
    const f = new Date(from).getTime();
    const t = new Date(to).getTime();
    if (!Number.isFinite(f) || !Number.isFinite(t) || f >= t) return;
    pick(new Date(f).toISOString(), new Date(t).toISOString());
  };

  return (
    <div class="range-picker" ref={box} onKeyDown={(e) => e.key === 'Escape' && setOpen(false)}>
      <button
        type="button"
        class="range-button"
        aria-haspopup="dialog"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
        title={`${utcTitle(range.fromMs)} → ${utcTitle(range.toMs)}`}
        data-testid="range-button"
      >
        {rangeLabel(range.from, range.to)}
        <span class="range-detail">
          {localTime(range.fromMs)} → {range.live ? 'now' : localTime(range.toMs)} ({ZONE})
        </span>
      </button>
      <button type="button" class="icon-button" onClick={refresh} title="Refresh (r)" aria-label="Refresh">
        ↻
      </button>
      {open && (
        <div class="range-popup" role="dialog" aria-label="Time range">
          <ul class="range-presets">
            {PRESETS.map((p) => (
              <li key={p.from}>
                <button type="button" aria-pressed={range.from === p.from && range.live} onClick={() => pick(p.from)}>
                  {p.label}
                </button>
              </li>
            ))}
          </ul>
          <form class="range-absolute" onSubmit={applyAbsolute}>
            <label>
              From ({ZONE})
              <input type="datetime-local" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} required />
            </label>
            <label>
              To
              <input type="datetime-local" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} required />
            </label>
            <button type="submit">Apply absolute range</button>
          </form>
        </div>
      )}
    </div>
  );
}
