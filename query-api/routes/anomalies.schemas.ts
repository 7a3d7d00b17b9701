/**
 * Request schemas (zod) and response shapes of the anomaly routes
 * (GET /api/v1/anomalies, GET/PUT /api/v1/anomalies/settings).
 */
import { z } from 'zod';
import { docSchema, limitParam, stringFilter, timeParam } from '../params.js';
import { SIGNALS } from '../../anomaly/series.js';

/** Query of GET /api/v1/anomalies. */
export const AnomaliesQuery = z.strictObject({
  from: timeParam.optional().meta({ description: 'window start (minute of the score); default to − 1 h' }),
  to: timeParam.optional().meta({ description: 'window end (exclusive); default now' }),
  service: stringFilter.optional(),
  operation: stringFilter.optional().meta({ description: 'operation series only' }),
  model: stringFilter.optional().meta({ description: 'model (LLM) series only' }),
  signal: z.enum(SIGNALS, { error: `expected one of ${SIGNALS.join(' | ')}` }).optional(),
  min_score: z
    .string()
    .regex(/^(0(\.\d+)?|1(\.0+)?)$/, { message: 'expected a number from 0 to 1, e.g. 0.9' })
    .transform(Number)
    .optional()
    .meta({ description: 'only points with score ≥ this, 0 … 1; default 0' }),
  limit: limitParam(100, 1000),
});
export type AnomaliesQuery = z.output<typeof AnomaliesQuery>;

/** Body of PUT /api/v1/anomalies/settings. */
export const SettingsBody = z.strictObject({ enabled: z.boolean({ error: 'expected true or false' }) });

/**
 * One scored point: minute start (ISO-8601 UTC), series (kind `operation` with
 * `operation`, or `model` with `model`), signal, observed and expected values
 * (request_rate spans/min, error_rate 0–1, latency_p99_ms ms, cost_usd USD/min),
 * the band [lower, upper] outside which the point alone scores ≥ 0.9, score
 * 0–1 and is_anomaly (score ≥ the configured threshold).
 */
export interface AnomalyPoint {
  t: string;
  series_kind: 'operation' | 'model';
  service: string;
  operation: string | null;
  model: string | null;
  signal: string;
  observed: number;
  expected: number;
  lower: number;
  upper: number;
  score: number;
  is_anomaly: boolean;
}

const errorsDoc = 'Errors: 400 VIGIL_ERR_VALIDATION (bad parameter), 401 VIGIL_ERR_UNAUTHORIZED.';

export const anomaliesDoc = {
  summary: 'Anomaly scores per series, signal and minute, newest first',
  description:
    'From anomaly_scores, written by the processors for every closed minute of every (service, operation) and ' +
    '(service, model) series: request_rate, error_rate, latency_p99_ms (from merged DDSketches), cost_usd (model series). ' +
    'Scores are in [0, 1]; ≥ 0.9 is worth a look (bench/README.md). ' + errorsDoc,
  tags: ['anomalies'],
  security: [{ bearer: [] }],
  querystring: docSchema(AnomaliesQuery),
};

export const settingsGetDoc = {
  summary: 'Whether anomaly scoring is on for this project (default on)',
  tags: ['anomalies'],
  security: [{ bearer: [] }],
};

export const settingsPutDoc = {
  summary: 'Switch anomaly scoring on or off for this project',
  description: 'Body {"enabled": true|false}. Takes effect at the scorers\' next tick. ' + errorsDoc,
  tags: ['anomalies'],
  security: [{ bearer: [] }],
  body: docSchema(SettingsBody),
};
