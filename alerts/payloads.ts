/**
 * Notification bodies.
 *
 * Webhook channels get Alertmanager's webhook body, version "4"
 * (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config):
 * ```
 * { version: "4", groupKey, truncatedAlerts: 0, status: "firing" | "resolved", receiver,
 *   groupLabels, commonLabels, commonAnnotations, externalURL,
 *   alerts: [{ status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint,
 *              vigil: { rule_id, value, severity, state } }],
 *   vigil: { project, rule_id, rule_name, severity, evaluated_at } }
 * ```
 * so receivers built for Alertmanager work unchanged; Vigil's own fields sit
 * under `vigil` keys. `status` is "firing" when any alert of the message fires.
 * Active alerts carry `endsAt: "0001-01-01T00:00:00Z"` as Alertmanager sends.
 *
 * Slack channels get an incoming-webhook message (`text` plus Block Kit
 * `blocks`; https://api.slack.com/messaging/webhooks).
 */
import type { AlertState } from './state-machine.js';
import { humanize } from './templates.js';

/** Alertmanager's zero time, sent as endsAt of alerts that are still active. */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** One alert of a message. */
export interface NotifiedAlert {
  status: 'firing' | 'resolved';
  /** The instance's state now (firing, nodata, error, normal …). */
  state: AlertState;
  /** Every label: alertname, severity, the rule's labels, the group labels. */
  labels: Record<string, string>;
  /** Rendered annotations. */
  annotations: Record<string, string>;
  startsAt: Date;
  /** Resolution time; null while active. */
  endsAt: Date | null;
  fingerprint: string;
  value: number | null;
}

/** What every message is about. */
export interface MessageContext {
  project: string;
  receiver: string;
  rule: { id: string; name: string; severity: string };
  /** Base URL of Vigil's query API (generatorURL, externalURL). */
  externalUrl: string;
  evaluatedAt: Date;
  alerts: NotifiedAlert[];
}

function common<T extends Record<string, string>>(maps: T[]): Record<string, string> {
  if (maps.length === 0) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(maps[0]!)) if (maps.every((m) => m[k] === v)) out[k] = v;
  return out;
}

const labelString = (m: Record<string, string>): string =>
  `{${Object.keys(m).sort().map((k) => `${k}=${JSON.stringify(m[k])}`).join(',')}}`;

/** The Alertmanager webhook v4 body (plus `vigil` fields) of one message. */
export function alertmanagerBody(m: MessageContext): Record<string, unknown> {
  const generatorURL = `${m.externalUrl}/api/v1/alerts?rule_id=${m.rule.id}`;
  const groupLabels = { alertname: m.rule.name };
  return {
    version: '4',
    groupKey: `{}/{rule_id=${JSON.stringify(m.rule.id)}}:${labelString(groupLabels)}`,
    truncatedAlerts: 0,
    status: m.alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved',
    receiver: m.receiver,
    groupLabels,
    commonLabels: common(m.alerts.map((a) => a.labels)),
    commonAnnotations: common(m.alerts.map((a) => a.annotations)),
    externalURL: m.externalUrl,
    alerts: m.alerts.map((a) => ({
      status: a.status,
      labels: a.labels,
      annotations: a.annotations,
      startsAt: a.startsAt.toISOString(),
      endsAt: a.endsAt === null ? ZERO_TIME : a.endsAt.toISOString(),
      generatorURL,
      fingerprint: a.fingerprint,
      vigil: { rule_id: m.rule.id, value: a.value, severity: m.rule.severity, state: a.state },
    })),
    vigil: { project: m.project, rule_id: m.rule.id, rule_name: m.rule.name, severity: m.rule.severity, evaluated_at: m.evaluatedAt.toISOString() },
  };
}

const EMOJI: Record<string, string> = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' };

/** A Slack incoming-webhook message of one notification. */
export function slackBody(m: MessageContext): Record<string, unknown> {
  const firing = m.alerts.filter((a) => a.status === 'firing');
  const resolved = m.alerts.filter((a) => a.status === 'resolved');
  const head = firing.length > 0
    ? `${EMOJI[m.rule.severity] ?? ''} [FIRING:${firing.length}] ${m.rule.name}`
    : `:white_check_mark: [RESOLVED] ${m.rule.name}`;
  const line = (a: NotifiedAlert): string => {
    const series = Object.entries(a.labels)
      .filter(([k]) => k !== 'alertname' && k !== 'severity')
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    const summary = a.annotations.summary ?? `value ${humanize(a.value)}`;
    return `• *${a.status === 'firing' ? (a.state === 'firing' ? 'firing' : a.state) : 'resolved'}* ${series === '' ? '' : `(${series}) `}${summary}`;
  };
  const text = [head, ...[...firing, ...resolved].map(line)].join('\n');
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `project ${m.project} · severity ${m.rule.severity} · <${m.externalUrl}/api/v1/alerts?rule_id=${m.rule.id}|alerts>` }] },
    ],
  };
}

/** Body of a channel test message (POST /api/v1/alerts/channels/:id/test), in the channel's format. */
export function testBody(type: 'webhook' | 'slack', project: string, receiver: string, externalUrl: string, now: Date): Record<string, unknown> {
  const m: MessageContext = {
    project,
    receiver,
    rule: { id: '00000000-0000-0000-0000-000000000000', name: 'Vigil test notification', severity: 'info' },
    externalUrl,
    evaluatedAt: now,
    alerts: [
      {
        status: 'firing',
        state: 'firing',
        labels: { alertname: 'Vigil test notification', severity: 'info' },
        annotations: { summary: 'This is a test message from Vigil; the channel works.' },
        startsAt: now,
        endsAt: null,
        fingerprint: '0000000000000000',
        value: null,
      },
    ],
  };
  return type === 'slack' ? slackBody(m) : { ...alertmanagerBody(m), vigil: { project, test: true, evaluated_at: now.toISOString() } };
}
