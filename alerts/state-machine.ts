/**
 * The alert state machine (pure; no I/O, the clock is an argument).
 *
 *   normal ──true──▶ pending ──true for `for`──▶ firing ──false for `keep_firing_for`──▶ normal
 *      ▲                │false                      │
 *      └────────────────┘                           └─ true again: stays firing
 *
 * With `for` = 0 a true condition goes straight to firing. `keep_firing_for`
 * counts from the last evaluation that found the condition true (Prometheus'
 * semantics): the alert resolves at the first false evaluation at least
 * `keep_firing_for` after it (at once when 0).
 *
 * `nodata` and `error` are states of their own (the rule's no_data_state =
 * nodata, exec_err_state = error): entering them notifies like firing, leaving
 * them for normal notifies resolved. The other settings are mapped to
 * outcomes by the evaluator before calling {@link step}: no_data_state ok →
 * false, alerting → true; exec_err_state alerting → true, keep_last → keep.
 *
 * Sources: Prometheus alerting rules (`for`, `keep_firing_for`), Grafana
 * alerting states (Normal, Pending, Alerting, NoData, Error).
 */

export type AlertState = 'normal' | 'pending' | 'firing' | 'nodata' | 'error';

/** States that are "active" for notification purposes (firing messages, repeats). */
export const NOTIFYING_STATES: ReadonlySet<AlertState> = new Set(['firing', 'nodata', 'error']);

/** The stored state of one alert instance. Times are Dates (ms precision). */
export interface InstanceState {
  state: AlertState;
  value: number | null;
  /** Condition true since (pending, firing); null otherwise. */
  activeAt: Date | null;
  firingAt: Date | null;
  resolvedAt: Date | null;
  lastTrueAt: Date | null;
  stateChangedAt: Date;
}

/** What one evaluation found for one series. */
export type Outcome =
  | { kind: 'true'; value: number | null }
  | { kind: 'false'; value: number | null }
  | { kind: 'nodata' }
  | { kind: 'error' }
  /** Keep the current state unchanged (exec_err_state keep_last, or fewer than 3 failures). */
  | { kind: 'keep' };

/** Timers of the rule, seconds. */
export interface Timers {
  forS: number;
  keepFiringForS: number;
}

/** Result of one step: the new state and which notification the transition asks for. */
export interface StepResult {
  next: InstanceState;
  /** 'firing' (entered firing, nodata or error), 'resolved' (left them for normal or pending), or null. */
  notify: 'firing' | 'resolved' | null;
  changed: boolean;
}

/** A fresh instance in state normal. */
export function initialState(now: Date): InstanceState {
  return { state: 'normal', value: null, activeAt: null, firingAt: null, resolvedAt: null, lastTrueAt: null, stateChangedAt: now };
}

/**
 * Advance one instance by one evaluation.
 * @param prev stored state.
 * @param outcome what the evaluation found.
 * @param now evaluation time.
 * @param timers the rule's `for` and `keep_firing_for` (seconds).
 */
export function step(prev: InstanceState, outcome: Outcome, now: Date, timers: Timers): StepResult {
  if (outcome.kind === 'keep') return { next: prev, notify: null, changed: false };
  const t = now.getTime();
  const to = (state: AlertState, patch: Partial<InstanceState>, notify: StepResult['notify']): StepResult => ({
    next: { ...prev, ...patch, state, stateChangedAt: state === prev.state ? prev.stateChangedAt : now },
    notify,
    changed: state !== prev.state,
  });

  if (outcome.kind === 'nodata' || outcome.kind === 'error') {
    const state = outcome.kind;
    if (prev.state === state) return to(state, { value: null }, null);
    return to(state, { value: null, activeAt: null, firingAt: now, resolvedAt: null }, 'firing');
  }

  if (outcome.kind === 'true') {
    const value = outcome.value;
    switch (prev.state) {
      case 'firing':
        return to('firing', { value, lastTrueAt: now }, null);
      case 'pending': {
        const since = (prev.activeAt ?? now).getTime();
        if (t - since >= timers.forS * 1000) return to('firing', { value, lastTrueAt: now, firingAt: now, resolvedAt: null }, 'firing');
        return to('pending', { value, lastTrueAt: now }, null);
      }
      default: {
        // normal, nodata, error: the condition starts being true now.
        const wasActive = prev.state !== 'normal';
        if (timers.forS === 0) return to('firing', { value, activeAt: now, lastTrueAt: now, firingAt: now, resolvedAt: null }, 'firing');
        return to('pending', { value, activeAt: now, lastTrueAt: now, firingAt: null }, wasActive ? 'resolved' : null);
      }
    }
  }

  // outcome false
  const value = outcome.value;
  switch (prev.state) {
    case 'firing': {
      const last = (prev.lastTrueAt ?? prev.firingAt ?? now).getTime();
      if (timers.keepFiringForS === 0 || t - last >= timers.keepFiringForS * 1000) {
        return to('normal', { value, activeAt: null, resolvedAt: now }, 'resolved');
      }
      return to('firing', { value }, null);
    }
    case 'pending':
      return to('normal', { value, activeAt: null }, null);
    case 'nodata':
    case 'error':
      return to('normal', { value, activeAt: null, resolvedAt: now }, 'resolved');
    default:
      return to('normal', { value }, null);
  }
}
