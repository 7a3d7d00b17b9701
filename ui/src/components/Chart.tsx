/**
 * Time-series charts drawn by uPlot (canvas). uPlot's own legend is off: the
 * legend and the hover values are rendered by preact (escaped text), since
 * series labels (service names, models) come from telemetry.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { useEffect, useRef, useState } from 'preact/hooks';
import { localTime, utcTitle } from '../format';

/** Okabe & Ito's colour-blind-safe palette (the last entry is replaced by the text colour). */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#56B4E9', '#CC79A7', '#F0E442', ''];
const DASHES: Array<number[] | undefined> = [undefined, [6, 3], [2, 2], [8, 3, 2, 3]];

export function colorAt(i: number): string {
  const c = PALETTE[i % PALETTE.length]!;
  return c === '' ? cssVar('--fg', '#444') : c;
}

function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v === '' ? fallback : v;
}

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
  color?: string;
}

export interface ChartProps {
  /** Bucket times, epoch seconds. */
  x: number[];
  series: ChartSeries[];
  height?: number;
  /** Format of y values (axis and legend). */
  fmt?: (v: number | null) => string;
  /** Accessible name. */
  label: string;
  /** Sparkline: no axes, no legend, no cursor. */
  spark?: boolean;
  /** Bars instead of lines. */
  bars?: boolean;
  testId?: string;
  /** Extra markers: vertical lines at these epoch seconds. */
  marks?: Array<{ t: number; color: string }>;
}

function useTheme(): number {
  const [n, setN] = useState(0);
  useEffect(() => {
    const f = (): void => setN((x) => x + 1);
    window.addEventListener('vigil:theme', f);
    const mq = matchMedia('(prefers-color-scheme: dark)');
    mq.addEventListener('change', f);
    return () => {
      window.removeEventListener('vigil:theme', f);
      mq.removeEventListener('change', f);
    };
  }, []);
  return n;
}

export function Chart({ x, series, height = 200, fmt = (v) => (v === null ? '—' : String(+v.toPrecision(4))), label, spark, bars, testId, marks }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [idx, setIdx] = useState<number | null>(null);
  const theme = useTheme();

  useEffect(() => {
    const el = box.current;
    if (el === null) return;
    const fg = cssVar('--fg-muted', '#666');
    const grid = cssVar('--grid', '#ddd');
    const width = Math.max(el.clientWidth, 100);
    const opts: uPlot.Options = {
      width,
      height,
      legend: { show: false },
      cursor: spark ? { show: false } : { drag: { x: false, y: false }, points: { size: 6 } },
      select: { show: false, left: 0, top: 0, width: 0, height: 0 },
      padding: spark ? [2, 0, 2, 0] : [8, 8, 0, 0],
      scales: { x: { time: true }, y: { range: (_u, min, max) => [Math.min(0, min), max <= 0 ? 1 : max * 1.08] } },
      axes: spark
        ? [{ show: false }, { show: false }]
        : [
            { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
            { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 64, values: (_u, vals) => vals.map((v) => fmt(v)) },
          ],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color ?? colorAt(i),
          width: spark ? 1.5 : 2,
          dash: spark ? undefined : DASHES[Math.floor(i / PALETTE.length) % DASHES.length],
          fill: bars ? `${s.color ?? colorAt(i)}99` : undefined,
          paths: bars ? uPlot.paths.bars!({ size: [0.8, 40] }) : undefined,
          // Isolated values (a single bucket with data) would draw nothing as a line: show them as points.
          points: { show: s.values.filter((v) => v !== null).length <= 2 || (!spark && x.length < 3), size: spark ? 4 : 6 },
          spanGaps: false,
        })),
      ],
      hooks: {
        setCursor: [(u) => setIdx(u.cursor.idx ?? null)],
        draw: marks?.length
          ? [
              (u) => {
                const ctx = u.ctx;
                ctx.save();
                for (const m of marks) {
                  const px = u.valToPos(m.t, 'x', true);
                  ctx.strokeStyle = m.color;
                  ctx.lineWidth = 2;
                  ctx.setLineDash([4, 3]);
                  ctx.beginPath();
                  ctx.moveTo(px, u.bbox.top);
                  ctx.lineTo(px, u.bbox.top + u.bbox.height);
                  ctx.stroke();
                }
                ctx.restore();
              },
            ]
          : [],
      },
    };
    const data = [x, ...series.map((s) => s.values)] as uPlot.AlignedData;
    const u = new uPlot(opts, data, el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(el.clientWidth, 100);
      if (w !== u.width) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
    // Charts are cheap to rebuild; data changes rebuild them.
  }, [x, series, height, spark, bars, theme, marks]);

  const at = idx === null ? null : idx;
  return (
    <figure class={spark ? 'chart spark' : 'chart'} data-testid={testId} data-points={x.length}>
      <div ref={box} class="chart-canvas" role="img" aria-label={label} />
      {!spark && (
        <figcaption class="legend">
          {at !== null && x[at] !== undefined && (
            <span class="legend-time" title={utcTitle(x[at]! * 1000)}>
              {localTime(x[at]! * 1000)}
            </span>
          )}
          {series.map((s, i) => (
            <span class="legend-item" key={`${i}:${s.label}`}>
              <span class="swatch" style={{ background: s.color ?? colorAt(i) }} aria-hidden="true" />
              {s.label}
              {at !== null && <b>{fmt(s.values[at] ?? null)}</b>}
            </span>
          ))}
        </figcaption>
      )}
    </figure>
  );
}

/**
 * Align points of several groups onto one time axis.
 * @returns x (epoch s, every bucket of [fromS, toS) by step) and one value array per group.
 */
export function alignSeries<P extends { t: string; group: string | null }>(
  points: P[],
  fromS: number,
  toS: number,
  step: number,
  value: (p: P) => number | null,
  fill: number | null = null,
): { x: number[]; groups: Map<string, Array<number | null>> } {
  const x: number[] = [];
  const start = Math.floor(fromS / step) * step;
  for (let t = start; t < toS; t += step) x.push(t);
  const pos = new Map(x.map((t, i) => [t, i]));
  const groups = new Map<string, Array<number | null>>();
  for (const p of points) {
    const g = p.group ?? '';
    let arr = groups.get(g);
    if (arr === undefined) groups.set(g, (arr = x.map(() => fill)));
    const i = pos.get(Date.parse(p.t) / 1000);
    if (i !== undefined) arr[i] = value(p);
  }
  return { x, groups };
}
