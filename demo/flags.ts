/**
 * The demo's feature flag, evaluated through the OpenFeature server SDK with
 * the OFREP provider against Vigil (POST /ofrep/v1/evaluate/flags/{key},
 * Authorization: Bearer <project key>).
 *
 * Every evaluation is recorded on the active span as the OpenTelemetry
 * semantic-convention event `feature_flag.evaluation` (`feature_flag.key`,
 * `feature_flag.result.variant`, `feature_flag.result.value`,
 * `feature_flag.provider.name` …), built by @openfeature/core's
 * createEvaluationEvent — what @openfeature/open-telemetry-hooks'
 * SpanEventHook emits (that package itself pins @opentelemetry/api-logs
 * 0.205 as a peer, which conflicts with this project's 0.223). Vigil's
 * processors aggregate those events per variant (flag_variant_metrics_1m),
 * which GET /api/v1/experiments/<flag> reads. The demo evaluates the flag
 * inside its LLM span (`chat <model>`, demo/service.ts), so the evaluating
 * span is the priced one and the experiment compares latency and cost.
 *
 * Demo flag {@link DEMO_FLAG} (string, created by {@link demoFlagDefinition}
 * for the default project): variant `mini` = gpt-4o-mini (control, default)
 * and `full` = gpt-4o, split 50/50 by user id. `/chat` asks the flag which
 * model to call; the `full` variant is costlier (gpt-4o prices) and slower
 * (it waits {@link FULL_EXTRA_LATENCY_MS} more).
 */
import { trace } from '@opentelemetry/api';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { createEvaluationEvent, OpenFeature, type Client, type Hook } from '@openfeature/server-sdk';

/** Key of the demo flag. */
export const DEMO_FLAG = 'demo.chat-model';

/** Extra latency of the `full` variant, ms. */
export const FULL_EXTRA_LATENCY_MS = 120;

/** The demo flag's definition (a body for POST /api/v1/flags). */
export function demoFlagDefinition(): Record<string, unknown> {
  return {
    key: DEMO_FLAG,
    description: 'Demo: which model /chat calls. full (gpt-4o) is slower and costlier than mini (gpt-4o-mini); compare them at GET /api/v1/experiments/demo.chat-model',
    type: 'string',
    variants: { mini: 'gpt-4o-mini', full: 'gpt-4o' },
    default_variant: 'mini',
    fallthrough: { rollout: [{ variant: 'mini', weight: 50 }, { variant: 'full', weight: 50 }] },
    metadata: { owner: 'vigil-demo' },
  };
}

/**
 * OpenFeature hook: add the `feature_flag.evaluation` event (OTel semantic
 * conventions, via @openfeature/core createEvaluationEvent) to the active span.
 */
export const spanEventHook: Hook = {
  finally(hookContext, details) {
    const span = trace.getActiveSpan();
    if (span === undefined) return;
    const { name, attributes } = createEvaluationEvent(hookContext, details);
    span.addEvent(name, attributes as Record<string, string | number | boolean>);
  },
};

/** A running OpenFeature client for the demo. */
export interface DemoFlags {
  client: Client;
  /** The model /chat should call for this user (the default model when Vigil cannot answer). */
  chatModel(userId: string | undefined, fallback: string): Promise<{ model: string; variant: string | undefined }>;
  close(): Promise<void>;
}

/**
 * Set the OFREP provider (Vigil's query API at `ofrepUrl`) and the span-event hook.
 * @param ofrepUrl base URL of Vigil's query API, e.g. http://127.0.0.1:8080.
 * @param apiKey the project key.
 */
export async function startDemoFlags(ofrepUrl: string, apiKey: string): Promise<DemoFlags> {
  await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: ofrepUrl, headers: [['Authorization', `Bearer ${apiKey}`]] }));
  OpenFeature.addHooks(spanEventHook);
  const client = OpenFeature.getClient('vigil-demo');
  return {
    client,
    async chatModel(userId, fallback) {
      const d = await client.getStringDetails(DEMO_FLAG, fallback, { targetingKey: userId ?? 'anonymous' });
      return { model: d.value, variant: d.variant };
    },
    close: () => OpenFeature.close(),
  };
}
