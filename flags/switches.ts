/**
 * Flags that steer Vigil itself (issue 10, "Flags that steer Vigil"): per-project
 * pipeline switches stored as ordinary feature flags and read from the shared
 * {@link FlagCache} (in memory; refreshed by LISTEN/NOTIFY), so turning one is a
 * flag change like any other (audited in feature_flag_changes).
 *
 * | flag key | type | default when absent | effect |
 * |---|---|---|---|
 * | `vigil.ingest.logs` | boolean | true | false → log intake answers 403 VIGIL_ERR_FORBIDDEN |
 * | `vigil.sampling.keep_ratio` | number in [0, 1] | 1 | head sampling of traces by trace id (processors/sampling.ts) |
 * | `vigil.anomaly.enabled` | boolean | true | anomaly scoring on/off for the project |
 *
 * Evaluation context: `{ targetingKey: <project id>, project: <project id> }`,
 * so rules and overrides can target projects. A flag that is missing, does
 * not parse or holds a value of the wrong type yields the default (a wrong
 * type is logged once per flag and project).
 */
import type { Logger } from '../platform/logger.js';
import type { FlagCache } from './cache.js';

/** The switch flag keys. */
export const SWITCH_FLAGS = {
  ingestLogs: 'vigil.ingest.logs',
  keepRatio: 'vigil.sampling.keep_ratio',
  anomalyEnabled: 'vigil.anomaly.enabled',
} as const;

/** Pipeline switches of a project (see module doc). Never throw. */
export interface PipelineSwitches {
  /** Whether the project's logs are accepted (`vigil.ingest.logs`). */
  logsAccepted(project: string): Promise<boolean>;
  /** Fraction of traces kept, in [0, 1] (`vigil.sampling.keep_ratio`). */
  keepRatio(project: string): Promise<number>;
  /** Whether anomaly scoring runs for the project (`vigil.anomaly.enabled`). */
  anomalyEnabled(project: string): Promise<boolean>;
}

/** Switches read from `cache` (see module doc). */
export function createSwitches(cache: FlagCache, log: Logger): PipelineSwitches {
  const warned = new Set<string>();
  async function read<T>(project: string, key: string, fallback: T, valid: (v: unknown) => v is T): Promise<T> {
    try {
      const r = await cache.evaluate(project, key, { targetingKey: project, project });
      if (!r.ok) return fallback;
      if (valid(r.value)) return r.value;
      if (!warned.has(`${project}/${key}`)) {
        warned.add(`${project}/${key}`);
        log.warn({ project, flag: key, value: r.value }, 'pipeline switch flag has a value of the wrong type; using the default');
      }
      return fallback;
    } catch (err) {
      if (!warned.has(`${project}/${key}/err`)) {
        warned.add(`${project}/${key}/err`);
        log.warn({ err, project, flag: key }, 'pipeline switch flag could not be read; using the default');
      }
      return fallback;
    }
  }
  const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
  const isRatio = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v <= 1;
  return {
    logsAccepted: (p) => read(p, SWITCH_FLAGS.ingestLogs, true, isBool),
    keepRatio: (p) => read(p, SWITCH_FLAGS.keepRatio, 1, isRatio),
    anomalyEnabled: (p) => read(p, SWITCH_FLAGS.anomalyEnabled, true, isBool),
  };
}
