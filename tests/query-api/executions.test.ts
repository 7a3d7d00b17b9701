/**
 * Issue 8 — seed 004's executions over Vigil's traces, on a trace set shaped
 * like seed 004's example: guardrail_check → intent_classifier →
 * multi_platform_orchestrator (failed: "'NoneType' object has no attribute
 * 'get'"), status partial; plus a completed, a failed and a running one.
 * Against the real test chDB.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { SpanRow } from '../../schemas/rows.js';
import { insert, minuteAgo, spanId, spanRow, testApp, traceId, type TestApp } from './support.js';

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});

async function get(auth: Record<string, string>, url: string): Promise<{ status: number; body: any }> {
  const res = await t.app.inject({ method: 'GET', url, headers: auth });
  return { status: res.statusCode, body: res.json() };
}

const ERR = "'NoneType' object has no attribute 'get'";

/** One execution: a root span `chat_turn` and nodes run one after another. */
function execution(
  tenant: string,
  startMs: number,
  opts: { conv: string; user: string; request: string; response?: string; nodes: Array<[string, number, string?]>; rootError?: string; noRoot?: boolean },
): { id: string; rows: SpanRow[] } {
  const id = traceId();
  const root = spanId();
  const rows: SpanRow[] = [];
  let at = startMs;
  for (const [name, ms, error] of opts.nodes) {
    rows.push(spanRow({ tenant, trace_id: id, parent_span_id: root, name, service: 'agent', startMs: at, durationMs: ms, user_id: opts.user, status_code: error === undefined ? 'ok' : 'error', status_message: error ?? '' }));
    at += ms;
  }
  if (!opts.noRoot) {
    const attributes: Record<string, string> = { 'gen_ai.conversation.id': opts.conv, 'request.message': opts.request };
    if (opts.response !== undefined) attributes['response.message'] = opts.response;
    rows.push(spanRow({ tenant, trace_id: id, span_id: root, name: 'chat_turn', service: 'agent', startMs, durationMs: at - startMs + 5, user_id: opts.user, attributes, status_code: opts.rootError ? 'error' : 'unset', status_message: opts.rootError ?? '' }));
  }
  return { id, rows };
}

describe('executions (seed 004)', () => {
  it('list, detail, conversation and stats on the seed example', async () => {
    const { tenant, auth } = t.tenant();
    const base = minuteAgo(60);
    const partial = execution(tenant, base, {
      conv: 'conv-456', user: 'user-001', request: 'Create LinkedIn post...', response: "I wasn't able to generate...",
      nodes: [['guardrail_check', 120], ['intent_classifier', 450], ['multi_platform_orchestrator', 2100, ERR]],
    });
    const completed = execution(tenant, base + 60_000, { conv: 'conv-456', user: 'user-001', request: 'Thanks!', response: 'You are welcome', nodes: [['guardrail_check', 100], ['intent_classifier', 300]] });
    const failed = execution(tenant, base + 120_000, { conv: 'conv-789', user: 'user-002', request: 'Search', nodes: [['guardrail_check', 100], ['data_checker', 50, 'embedding model not found']], rootError: 'graph failed' });
    const running = execution(tenant, base + 180_000, { conv: 'conv-789', user: 'user-002', request: 'x', nodes: [['guardrail_check', 80]], noRoot: true });
    await insert(t.ch, 'spans', [...partial.rows, ...completed.rows, ...failed.rows, ...running.rows]);

    const list = await get(auth, '/api/v1/executions?hours=24');
    expect(list.status, JSON.stringify(list.body)).toBe(200);
    expect(list.body).toMatchObject({ total: 4, offset: 0, limit: 50, time_range_hours: 24 });
    expect(list.body.executions.map((e: any) => [e.id, e.status])).toEqual([
      [running.id, 'running'],
      [failed.id, 'failed'],
      [completed.id, 'completed'],
      [partial.id, 'partial'],
    ]);
    const p = list.body.executions[3];
    expect(p).toMatchObject({
      id: partial.id, conversation_id: 'conv-456', user_id: 'user-001',
      request_message: 'Create LinkedIn post...', response_message: "I wasn't able to generate...",
      status: 'partial', started_at: new Date(base).toISOString().replace('.000Z', '.000000000Z'),
      total_duration_ms: 120 + 450 + 2100 + 5, failed_nodes: ['multi_platform_orchestrator'], error_summary: ERR,
      root_name: 'chat_turn', span_count: 4,
    });
    expect(list.body.executions[0]).toMatchObject({ status: 'running', completed_at: null, total_duration_ms: null, conversation_id: null, user_id: 'user-002' });
    expect(list.body.executions[1]).toMatchObject({ failed_nodes: ['data_checker'], error_summary: 'embedding model not found' });

    const onlyFailed = await get(auth, '/api/v1/executions?status=failed');
    expect(onlyFailed.body.executions.map((e: any) => e.id)).toEqual([failed.id]);
    expect(onlyFailed.body.total).toBe(1);
    const page = await get(auth, '/api/v1/executions?limit=2&offset=2');
    expect(page.body.executions.map((e: any) => e.id)).toEqual([completed.id, partial.id]);
    expect((await get(auth, '/api/v1/executions?user_id=user-002')).body.total).toBe(2);

    const detail = await get(auth, `/api/v1/executions/${partial.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.execution_trace.map((n: any) => [n.node, n.status, n.execution_time_ms, n.error])).toEqual([
      ['guardrail_check', 'completed', 120, undefined],
      ['intent_classifier', 'completed', 450, undefined],
      ['multi_platform_orchestrator', 'failed', 2100, ERR],
    ]);
    expect(detail.body.execution_trace[0]).toMatchObject({ depth: 1, timestamp: new Date(base + 120).toISOString().replace('Z', '000000Z').replace(/\.(\d{3})000000Z/, '.$1000000Z') });
    expect(detail.body.failed_nodes).toEqual(['multi_platform_orchestrator']);
    expect((await get(auth, `/api/v1/executions/${'0'.repeat(32)}`)).status).toBe(404);

    const conv = await get(auth, '/api/v1/conversations/conv-456/executions');
    expect(conv.body.executions.map((e: any) => e.id)).toEqual([completed.id, partial.id]);

    const stats = await get(auth, '/api/v1/executions/stats?hours=24');
    expect(stats.status).toBe(200);
    expect(stats.body).toEqual({
      time_range_hours: 24,
      total_executions: 4,
      by_status: { completed: 1, failed: 1, partial: 1, running: 1 },
      success_rate: 25,
      avg_duration_ms: ((120 + 450 + 2100 + 5) + (100 + 300 + 5) + (100 + 50 + 5)) / 3,
      failed_nodes_breakdown: { data_checker: 1, multi_platform_orchestrator: 1 },
    });

    // Another tenant sees none of it.
    const other = t.tenant();
    expect((await get(other.auth, '/api/v1/executions')).body.total).toBe(0);
    expect((await get(other.auth, '/api/v1/executions/stats')).body).toMatchObject({ total_executions: 0, success_rate: null, avg_duration_ms: null });
  });
});
