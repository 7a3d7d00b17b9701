/**
 * Annotation templates: a small, safe subset of Prometheus / Grafana alert
 * templating. Supported expressions (spaces inside the braces optional):
 *
 *   {{ $value }}          the evaluated value, humanized (4 significant digits)
 *   {{ $labels.NAME }}    a label of the alert (group labels, rule labels,
 *                         alertname, severity); empty when absent
 *   {{ $rule }}           the rule name
 *   {{ $threshold }}      the rule's threshold
 *
 * Anything else inside `{{ }}` is refused when the rule is saved, so a template
 * never fails at notification time.
 */

const EXPR_RE = /\{\{\s*([^}]*?)\s*\}\}/g;
const ALLOWED_RE = /^(?:\$value|\$rule|\$threshold|\$labels\.[A-Za-z_][A-Za-z0-9_]*)$/;

/**
 * Check a template.
 * @returns undefined when every `{{ … }}` is supported, else a message naming the
 *   first unsupported expression and the supported forms.
 */
export function checkTemplate(template: string): string | undefined {
  for (const m of template.matchAll(EXPR_RE)) {
    if (!ALLOWED_RE.test(m[1]!)) {
      return `unsupported template expression {{ ${m[1]} }}: use {{ $value }}, {{ $labels.<name> }}, {{ $rule }} or {{ $threshold }}`;
    }
  }
  return undefined;
}

/** Context of {@link renderTemplate}. */
export interface TemplateContext {
  value: number | null;
  labels: Record<string, string>;
  rule: string;
  threshold: number;
}

/**
 * Render a template checked by {@link checkTemplate} (unknown expressions are left as they are).
 * @returns the text with each supported expression replaced.
 */
export function renderTemplate(template: string, ctx: TemplateContext): string {
  return template.replace(EXPR_RE, (whole, expr: string) => {
    if (expr === '$value') return humanize(ctx.value);
    if (expr === '$rule') return ctx.rule;
    if (expr === '$threshold') return humanize(ctx.threshold);
    if (expr.startsWith('$labels.')) return ctx.labels[expr.slice('$labels.'.length)] ?? '';
    return whole;
  });
}

/** A value for people: at most 4 significant digits, no exponent below 1e15; null → "no data". */
export function humanize(v: number | null): string {
  if (v === null || Number.isNaN(v)) return 'no data';
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return String(Number(v.toPrecision(4)));
}
