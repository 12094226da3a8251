import { describe, expect, it } from 'vitest';
import { LAUNCH_CAPACITY_ERROR_CODES, LAUNCH_QUOTA_ERROR_CODES, SPOT_INTERRUPTION_STATE_REASONS, SPOT_INTERRUPTION_STATUS_CODES } from '../../contract/aws-codes';
import { classify, isCapacityError, quotaOf, type AttemptSignals } from '../../decisions/classify';

/** A healthy attempt: a fulfilled spot request, a running instance, the command in progress. */
const healthy: AttemptSignals = { spotStatusCode: 'fulfilled', instanceState: 'running', commandStatus: 'InProgress' };

describe('classify: spot interruptions', () => {
  it.each([...SPOT_INTERRUPTION_STATUS_CODES])('spot status %s is an interruption even while the command is InProgress', (code) => {
    // Prepare
    const signals: AttemptSignals = { ...healthy, spotStatusCode: code };

    // Act
    const verdict = classify(signals);

    // Assess
    expect(verdict).toMatchObject({ state: 'failed', kind: 'interruption', reasonCode: code });
  });

  it.each([...SPOT_INTERRUPTION_STATE_REASONS])('state reason %s on a terminated instance is an interruption, not the command failing', (reason) => {
    // Prepare: SSM lost the command (-1), the spot request says nothing useful.
    const signals: AttemptSignals = { instanceState: 'terminated', stateReasonCode: reason, commandStatus: 'Failed', responseCode: -1 };

    // Act
    const verdict = classify(signals);

    // Assess
    expect(verdict).toMatchObject({ state: 'failed', kind: 'interruption', reasonCode: reason });
  });

  it('the lists hold the codes AWS uses for the common interruptions', () => {
    // Prepare
    const expectedStatus = ['marked-for-termination', 'instance-terminated-no-capacity', 'instance-terminated-by-price'];
    const expectedReasons = ['Server.SpotInstanceTermination', 'Server.InsufficientInstanceCapacity'];

    // Act
    const missingStatus = expectedStatus.filter((c) => !(SPOT_INTERRUPTION_STATUS_CODES as readonly string[]).includes(c));
    const missingReasons = expectedReasons.filter((c) => !(SPOT_INTERRUPTION_STATE_REASONS as readonly string[]).includes(c));

    // Assess
    expect(missingStatus).toEqual([]);
    expect(missingReasons).toEqual([]);
  });
});

describe('classify: outcomes of the command', () => {
  it.each<[string, AttemptSignals, ReturnType<typeof classify>]>([
    ['Success', { ...healthy, commandStatus: 'Success', responseCode: 0 }, { state: 'succeeded' }],
    [
      'Success even when spot marks the instance right afterwards (the work is done)',
      { spotStatusCode: 'marked-for-termination', instanceState: 'running', commandStatus: 'Success', responseCode: 0 },
      { state: 'succeeded' },
    ],
    [
      'Failed with exit code 1 on a running, fulfilled instance',
      { ...healthy, commandStatus: 'Failed', responseCode: 1 },
      { state: 'failed', kind: 'workload-error', reasonCode: 'exit-code', detail: 'exit code 1' },
    ],
    [
      'Failed with exit code 137 on a healthy instance (the agent shut down, not spot)',
      { ...healthy, commandStatus: 'Failed', responseCode: 137 },
      { state: 'failed', kind: 'workload-error', reasonCode: 'exit-code', detail: 'exit code 137: stopped as the SSM agent shut down, without a spot interruption' },
    ],
    [
      'TimedOut with 137 at its executionTimeout (the phase budget)',
      { ...healthy, commandStatus: 'TimedOut', responseCode: 137, endedBeforeTimeout: false },
      { state: 'failed', kind: 'budget', reasonCode: 'command-timed-out', detail: 'command reached its executionTimeout (the phase budget)' },
    ],
    [
      'TimedOut with 137 before its executionTimeout: killed (out of memory?), a genuine error',
      { ...healthy, commandStatus: 'TimedOut', responseCode: 137, endedBeforeTimeout: true },
      { state: 'failed', kind: 'workload-error', reasonCode: 'killed', detail: 'killed (exit 137: out of memory?) before its timeout' },
    ],
    [
      'Cancelled with no interruption to explain it: the poll decides who cancelled it',
      { ...healthy, commandStatus: 'Cancelled', responseCode: 137 },
      { state: 'cancelled' },
    ],
  ])('%s', (_name, signals, expected) => {
    // Prepare: the row's signals.

    // Act
    const verdict = classify(signals);

    // Assess
    expect(verdict).toEqual(expected);
  });

  it.each(['Failed', 'Undeliverable', 'Terminated'])(
    'ResponseCode -1 with %s on a running, fulfilled instance is a genuine workload error, not an interruption',
    (commandStatus) => {
      // Prepare
      const signals: AttemptSignals = { ...healthy, commandStatus, responseCode: -1 };

      // Act
      const verdict = classify(signals);

      // Assess
      expect(verdict).toMatchObject({ state: 'failed', kind: 'workload-error' });
      expect(verdict.state === 'failed' && verdict.detail).toContain(`command ${commandStatus} without an exit code`);
    },
  );

  it.each(['Client.UserInitiatedShutdown', 'Client.InstanceInitiatedShutdown'])(
    'an instance terminated with %s (not by spot) is a workload error naming the reason',
    (stateReasonCode) => {
      // Prepare
      const signals: AttemptSignals = { spotStatusCode: 'instance-terminated-by-user', instanceState: 'terminated', stateReasonCode, commandStatus: 'InProgress' };

      // Act
      const verdict = classify(signals);

      // Assess
      expect(verdict).toMatchObject({ state: 'failed', kind: 'workload-error' });
      expect(verdict.state === 'failed' && verdict.detail).toContain(stateReasonCode);
    },
  );

  it.each<[string, AttemptSignals]>([
    ['InProgress on a healthy instance', healthy],
    ['Pending on a healthy instance', { ...healthy, commandStatus: 'Pending' }],
    ['Delayed on a healthy instance', { ...healthy, commandStatus: 'Delayed' }],
    ['InProgress while the spot request is still active', { ...healthy, spotStatusCode: 'request-canceled-and-instance-running' }],
    ['nothing known yet', {}],
  ])('%s -> running', (_name, signals) => {
    // Prepare: the row's signals.

    // Act
    const verdict = classify(signals);

    // Assess
    expect(verdict).toEqual({ state: 'running' });
  });
});

describe('classify: what happened first decides (an exit the agent reported stands)', () => {
  it.each([...SPOT_INTERRUPTION_STATUS_CODES])('exit code 1 reported, then spot status %s: a genuine error, never an interruption', (code) => {
    // Prepare: the workload exited 1 on a running instance; the spot notice arrived before the next poll.
    const signals: AttemptSignals = { spotStatusCode: code, instanceState: 'running', commandStatus: 'Failed', responseCode: 1 };

    // Act
    const verdict = classify(signals);

    // Assess
    expect(verdict).toMatchObject({ state: 'failed', kind: 'workload-error', reasonCode: 'exit-code' });
  });

  it('exit code 2 reported, then the instance terminated by spot: still genuine', () => {
    // Prepare
    const signals: AttemptSignals = { spotStatusCode: 'instance-terminated-no-capacity', instanceState: 'terminated', stateReasonCode: 'Server.SpotInstanceTermination', commandStatus: 'Failed', responseCode: 2 };

    // Act
    const verdict = classify(signals);

    // Assess
    expect(verdict).toMatchObject({ state: 'failed', kind: 'workload-error', reasonCode: 'exit-code', detail: 'exit code 2' });
  });

  it.each<[string, AttemptSignals]>([
    ['still InProgress when spot marked it', { spotStatusCode: 'marked-for-termination', instanceState: 'running', commandStatus: 'InProgress', responseCode: -1 }],
    ['Failed with 137 as the agent shut down with its instance', { spotStatusCode: 'instance-terminated-no-capacity', instanceState: 'terminated', commandStatus: 'Failed', responseCode: 137 }],
    ['Undeliverable, lost with its instance', { instanceState: 'terminated', stateReasonCode: 'Server.SpotInstanceTermination', commandStatus: 'Undeliverable', responseCode: -1 }],
    ['Cancelled by the pipeline on the notice', { spotStatusCode: 'marked-for-termination', instanceState: 'running', commandStatus: 'Cancelled', responseCode: 137 }],
    ['TimedOut without an exit code, the instance taken', { spotStatusCode: 'instance-terminated-by-price', instanceState: 'terminated', commandStatus: 'TimedOut', statusDetails: 'DeliveryTimedOut', responseCode: -1 }],
  ])('a command lost with its instance (%s) is an interruption', (_name, signals) => {
    // Prepare: the row's signals.

    // Act
    const verdict = classify(signals);

    // Assess
    expect(verdict).toMatchObject({ state: 'failed', kind: 'interruption' });
  });
});

describe('quotaOf', () => {
  it.each(Object.keys(LAUNCH_QUOTA_ERROR_CODES))('%s is an account quota, not capacity: named, and never rotated through', (code) => {
    // Prepare: the code.

    // Act
    const [quota, capacity] = [quotaOf(code), isCapacityError(code)];

    // Assess
    expect(quota).toMatch(/quota/);
    expect(capacity).toBe(false);
  });

  it.each(['InsufficientInstanceCapacity', 'RequestLimitExceeded', '__proto__', 'toString', undefined])('%s names no quota', (code) => {
    // Prepare: the code.

    // Act
    const quota = quotaOf(code);

    // Assess
    expect(quota).toBeUndefined();
  });
});

describe('isCapacityError', () => {
  it.each([...LAUNCH_CAPACITY_ERROR_CODES])('%s is a capacity error (rotate to the next pool)', (code) => {
    // Prepare: the code.

    // Act
    const capacity = isCapacityError(code);

    // Assess
    expect(capacity).toBe(true);
  });

  it.each(['InvalidParameterValue', 'UnauthorizedOperation', 'RequestLimitExceeded', 'InvalidLaunchTemplateId.NotFound', undefined])(
    '%s is not a capacity error (no rotation)',
    (code) => {
      // Prepare: the code.

      // Act
      const capacity = isCapacityError(code);

      // Assess
      expect(capacity).toBe(false);
    },
  );

  it('covers the insufficient-capacity codes RunInstances returns for spot', () => {
    // Prepare
    const codes = ['InsufficientInstanceCapacity', 'InsufficientCapacity', 'UnfulfillableCapacity', 'SpotMaxPriceTooLow'];

    // Act
    const recognised = codes.filter((c) => isCapacityError(c));

    // Assess
    expect(recognised).toEqual(codes);
  });
});
