/**
 * The alert state machine alone (alerts/state-machine.ts): for,
 * keep_firing_for, nodata, error, recovery — pure, with explicit times.
 */
import { describe, expect, it } from 'vitest';
import { initialState, step, type InstanceState, type Outcome } from '../../alerts/state-machine.js';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const at = (s: number): Date => new Date(T0 + s * 1000);
const TRUE: Outcome = { kind: 'true', value: 1 };
const FALSE: Outcome = { kind: 'false', value: 0 };

/** Run outcomes at 60 s intervals from T0; returns [state, notify] per step. */
function timeline(outcomes: Outcome[], timers: { forS: number; keepFiringForS: number }): Array<[string, string | null]> {
  let s: InstanceState = initialState(at(0));
  return outcomes.map((o, i) => {
    const r = step(s, o, at(i * 60), timers);
    s = r.next;
    return [s.state, r.notify];
  });
}

describe('alert state machine', () => {
  it('normal → pending → firing after `for`, then resolved at the first false evaluation', () => {
    expect(timeline([TRUE, TRUE, TRUE, TRUE, FALSE], { forS: 180, keepFiringForS: 0 })).toEqual([
      ['pending', null],
      ['pending', null],
      ['pending', null],
      ['firing', 'firing'], // 180 s after the condition became true
      ['normal', 'resolved'],
    ]);
  });

  it('for = 0 fires at once; a pending alert whose condition clears goes back to normal silently', () => {
    expect(timeline([TRUE], { forS: 0, keepFiringForS: 0 })).toEqual([['firing', 'firing']]);
    expect(timeline([TRUE, FALSE, TRUE], { forS: 300, keepFiringForS: 0 })).toEqual([
      ['pending', null],
      ['normal', null],
      ['pending', null],
    ]);
  });

  it('the pending timer starts when the condition became true, not at each evaluation', () => {
    let s = initialState(at(0));
    s = step(s, TRUE, at(0), { forS: 120, keepFiringForS: 0 }).next;
    expect(s.activeAt).toEqual(at(0));
    s = step(s, TRUE, at(60), { forS: 120, keepFiringForS: 0 }).next;
    expect(s.state).toBe('pending');
    expect(s.activeAt).toEqual(at(0));
    expect(step(s, TRUE, at(120), { forS: 120, keepFiringForS: 0 }).next.state).toBe('firing');
  });

  it('keep_firing_for keeps a firing alert through short dips', () => {
    expect(timeline([TRUE, FALSE, TRUE, FALSE, FALSE, FALSE], { forS: 0, keepFiringForS: 120 })).toEqual([
      ['firing', 'firing'],
      ['firing', null], // 60 s since last true < 120 s
      ['firing', null],
      ['firing', null],
      ['normal', 'resolved'], // 120 s since the last true evaluation
      ['normal', null],
    ]);
  });

  it('nodata and error are states of their own; recovery resolves them', () => {
    const timers = { forS: 60, keepFiringForS: 0 };
    expect(timeline([{ kind: 'nodata' }, { kind: 'nodata' }, FALSE], timers)).toEqual([
      ['nodata', 'firing'],
      ['nodata', null],
      ['normal', 'resolved'],
    ]);
    expect(timeline([TRUE, TRUE, { kind: 'error' }, { kind: 'keep' }, FALSE], timers)).toEqual([
      ['pending', null],
      ['firing', 'firing'],
      ['error', 'firing'],
      ['error', null],
      ['normal', 'resolved'],
    ]);
  });
});
