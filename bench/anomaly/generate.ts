/**
 * Deterministic synthetic evaluation series for the anomaly detector
 * (NAB-like: 5-minute points over two weeks unless noted, labelled anomaly
 * onsets). Same seed → same series, bit for bit (mulberry32 PRNG, Box–Muller
 * normals); no wall clock.
 *
 * Kinds (each series: a daily pattern, noise, and the injected anomalies):
 *   spikes, dips       single-point deviations of 5–12 noise σ (plus part of the daily amplitude)
 *   level_shift        persistent jumps up or down (adapt, do not alarm forever)
 *   drift              a slow linear ramp starting at the label
 *   variance           the noise σ multiplied by 4–6 for a while
 *   flatline           the value freezes (stuck sensor) for 60–150 points
 *   square_clean       a daily square wave with small noise: no anomaly (false positives only)
 *   noise_clean        AR(1) noise around a level: no anomaly
 *   counts             Poisson request counts per minute-like bucket with a daily
 *                      rhythm, an outage (0) and a surge (×3)
 *   latency            log-normal p99-like latency with a persistent ×2 regression
 *   gaps               spikes with 5 % of the rows missing and a 2-hour hole
 *   weekly             daily pattern plus lower weekends, with a spike and a dip
 */

/** One labelled series. times in epoch seconds; labels are indices into values of anomaly onsets. */
export interface Series {
  name: string;
  kind: string;
  times: number[];
  values: number[];
  labels: number[];
}

/** mulberry32: a small, fast, seedable 32-bit PRNG (Tommy Ettinger, public domain). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

function poisson(r: () => number, lambda: number): number {
  if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * normal(r)));
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k += 1;
    p *= r();
  } while (p > l);
  return k - 1;
}

const START = Date.UTC(2026, 0, 5) / 1000; // a Monday, 00:00 UTC
const STEP = 300;
const LEN = 4032; // 14 days of 5-minute points

/** Pick `k` onsets spread over (0.2·len, 0.95·len), at least `gap` apart. */
function onsets(r: () => number, len: number, k: number, gap = 300): number[] {
  const out: number[] = [];
  for (let tries = 0; out.length < k && tries < 1000; tries++) {
    const i = Math.floor(len * (0.2 + 0.75 * r()));
    if (out.every((o) => Math.abs(o - i) >= gap)) out.push(i);
  }
  return out.sort((a, b) => a - b);
}

/** A daily shape at time t: smooth (sine with a second harmonic). */
function daily(t: number, phase: number): number {
  const x = ((t % 86_400) / 86_400) * 2 * Math.PI + phase;
  return Math.sin(x) + 0.3 * Math.sin(2 * x + 1);
}

/** Base: level + amplitude·daily + noise. */
function base(r: () => number, len = LEN) {
  const level = 20 + 200 * r();
  const amp = level * (0.1 + 0.5 * r());
  const sigma = amp * (0.03 + 0.12 * r());
  const phase = 2 * Math.PI * r();
  const times = Array.from({ length: len }, (_, i) => START + i * STEP);
  const values = times.map((t) => level + amp * daily(t, phase) + sigma * normal(r));
  return { level, amp, sigma, times, values };
}

type Gen = (r: () => number) => Omit<Series, 'name' | 'kind'>;

const GENERATORS: Record<string, Gen> = {
  spikes: (r) => {
    const b = base(r);
    const labels = onsets(r, LEN, 3);
    for (const i of labels) b.values[i] = b.values[i]! + b.sigma * (5 + 7 * r()) + b.amp * 0.3 * r();
    return { times: b.times, values: b.values, labels };
  },
  dips: (r) => {
    const b = base(r);
    const labels = onsets(r, LEN, 3);
    for (const i of labels) b.values[i] = b.values[i]! - b.sigma * (5 + 7 * r()) - b.amp * 0.3 * r();
    return { times: b.times, values: b.values, labels };
  },
  level_shift: (r) => {
    const b = base(r);
    const labels = onsets(r, LEN, 2, 800);
    for (const i of labels) {
      const d = (r() < 0.5 ? -1 : 1) * b.sigma * (4 + 8 * r());
      for (let j = i; j < LEN; j++) b.values[j] = b.values[j]! + d;
    }
    return { times: b.times, values: b.values, labels };
  },
  drift: (r) => {
    const b = base(r);
    const labels = onsets(r, LEN, 1);
    const i = labels[0]!;
    const total = b.sigma * (8 + 8 * r());
    const dur = 150 + Math.floor(200 * r());
    for (let j = i; j < LEN; j++) b.values[j] = b.values[j]! + total * Math.min(1, (j - i) / dur);
    return { times: b.times, values: b.values, labels };
  },
  variance: (r) => {
    const b = base(r);
    const labels = onsets(r, LEN, 2);
    for (const i of labels) {
      const k = 4 + 2 * r();
      for (let j = i; j < Math.min(LEN, i + 100); j++) b.values[j] = b.values[j]! + (k - 1) * b.sigma * normal(r);
    }
    return { times: b.times, values: b.values, labels };
  },
  flatline: (r) => {
    const b = base(r);
    const labels = onsets(r, LEN, 2);
    for (const i of labels) {
      const v = b.values[i - 1]!;
      for (let j = i; j < Math.min(LEN, i + 60 + Math.floor(90 * r())); j++) b.values[j] = v;
    }
    return { times: b.times, values: b.values, labels };
  },
  square_clean: (r) => {
    const lo = 10 + 50 * r();
    const hi = lo * (1.5 + r());
    const sigma = (hi - lo) * 0.02;
    const on = 8 + Math.floor(4 * r());
    const times = Array.from({ length: LEN }, (_, i) => START + i * STEP);
    const values = times.map((t) => {
      const h = (t % 86_400) / 3600;
      return (h >= on && h < on + 10 ? hi : lo) + sigma * normal(r);
    });
    return { times, values, labels: [] };
  },
  noise_clean: (r) => {
    const level = 50 + 50 * r();
    const sigma = 1 + 5 * r();
    const phi = 0.3 + 0.6 * r();
    let e = 0;
    const times = Array.from({ length: LEN }, (_, i) => START + i * STEP);
    const values = times.map(() => {
      e = phi * e + Math.sqrt(1 - phi * phi) * sigma * normal(r);
      return level + e;
    });
    return { times, values, labels: [] };
  },
  counts: (r) => {
    const peak = 5 + 60 * r();
    const phase = 2 * Math.PI * r();
    const times = Array.from({ length: LEN }, (_, i) => START + i * STEP);
    const lambda = times.map((t) => peak * (0.55 + 0.45 * daily(t, phase) / 1.3));
    const labels = onsets(r, LEN, 2, 800);
    const [outage, surge] = labels;
    const values = lambda.map((l, i) => {
      if (outage !== undefined && i >= outage && i < outage + 20) return 0;
      if (surge !== undefined && i >= surge && i < surge + 10) return poisson(r, l * 3);
      return poisson(r, l);
    });
    return { times, values, labels };
  },
  latency: (r) => {
    const med = 50 + 300 * r();
    const s = 0.15 + 0.2 * r();
    const times = Array.from({ length: LEN }, (_, i) => START + i * STEP);
    const labels = onsets(r, LEN, 1);
    const values = times.map((t, i) => {
      const f = i >= labels[0]! ? 2 : 1;
      return f * med * (1 + 0.2 * daily(t, 0)) * Math.exp(s * normal(r) + (r() < 0.01 ? 0.5 * r() : 0));
    });
    return { times, values, labels };
  },
  gaps: (r) => {
    const b = base(r);
    const labels = onsets(r, LEN, 3);
    for (const i of labels) b.values[i] = b.values[i]! + b.sigma * (6 + 6 * r()) + b.amp * 0.3 * r();
    const hole = Math.floor(LEN * (0.3 + 0.4 * r()));
    const keep: number[] = [];
    for (let i = 0; i < LEN; i++) {
      const inHole = i >= hole && i < hole + 24 && !labels.includes(i);
      if (labels.includes(i) || (!inHole && r() > 0.05)) keep.push(i);
    }
    const pos = new Map(keep.map((i, k) => [i, k]));
    return { times: keep.map((i) => b.times[i]!), values: keep.map((i) => b.values[i]!), labels: labels.map((i) => pos.get(i)!) };
  },
  weekly: (r) => {
    const b = base(r);
    const drop = b.amp * (0.3 + 0.4 * r());
    for (let i = 0; i < LEN; i++) {
      const dow = (Math.floor(b.times[i]! / 86_400) + 4) % 7; // 0 = Sunday
      if (dow === 0 || dow === 6) b.values[i] = b.values[i]! - drop;
    }
    const labels = onsets(r, LEN, 2);
    b.values[labels[0]!] = b.values[labels[0]!]! + b.sigma * (6 + 6 * r()) + b.amp * 0.3;
    if (labels[1] !== undefined) b.values[labels[1]] = b.values[labels[1]]! - b.sigma * (6 + 6 * r()) - b.amp * 0.3;
    return { times: b.times, values: b.values, labels };
  },
};

/** Every kind, in a fixed order. */
export const KINDS = Object.keys(GENERATORS);

/**
 * One series of `kind` from `seed`.
 * @throws Error for an unknown kind.
 */
export function generate(kind: string, seed: number): Series {
  const g = GENERATORS[kind];
  if (g === undefined) throw new Error(`unknown series kind ${kind}`);
  const s = g(rng(seed * 7919 + KINDS.indexOf(kind) * 104_729));
  return { name: `${kind}_${seed}`, kind, ...s };
}

/** Every kind for each seed. */
export function generateSet(seeds: readonly number[]): Series[] {
  return seeds.flatMap((seed) => KINDS.map((k) => generate(k, seed)));
}
