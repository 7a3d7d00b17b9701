/**
 * Piscina worker of the anomaly pool (./pool.ts): scores a batch of series
 * over consecutive closed minutes. Input and output cross the thread boundary
 * by structured clone (detector states are Float64Arrays, ~1 KB per signal).
 */
import { scoreMinutes, type MinuteObs, type ScoredPoint, type SeriesState } from './series.js';

/** A batch: the minutes to score (ascending, no holes) and, per series, its state and observations. */
export interface BatchTask {
  minutes: number[];
  /** fromS: the series' first minute in this batch (a new series starts at its first spans). */
  series: Array<{ state: SeriesState; fromS: number; obs: Array<[number, MinuteObs]> }>;
}

/** The updated states (same order as the task) and the scored points. */
export interface BatchResult {
  states: SeriesState[];
  points: ScoredPoint[];
}

/** Score every series of the batch over the batch's minutes (pure; deterministic). */
export default function scoreBatch(task: BatchTask): BatchResult {
  const points: ScoredPoint[] = [];
  for (const s of task.series) points.push(...scoreMinutes(s.state, task.minutes.filter((m) => m >= s.fromS), new Map(s.obs)));
  return { states: task.series.map((s) => s.state), points };
}
