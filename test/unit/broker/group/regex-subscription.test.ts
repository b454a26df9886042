// Goal: the regex check refuses the shapes that backtrack badly and accepts ordinary topic
// patterns; the compiled expression matches whole names only. Method: tables of patterns.
import { describe, expect, test } from 'vitest';
import {
  compileSubscriptionRegex,
  subscriptionRegexMax,
  unsafeReason,
} from '../../../../src/broker/group/index.ts';

describe('regex subscriptions', () => {
  test.each([
    ['(a+)+', 'a nested quantifier'],
    ['(a*)*b', 'a nested quantifier'],
    ['(a|aa)+', 'a nested quantifier'],
    ['((ab)*c)+', 'a nested quantifier'],
    ['(x{2,})?', 'a nested quantifier'],
    ['(a)\\1', 'a backreference'],
    ['(?<n>a)\\k<n>', 'a backreference'],
    ['(?=a)a', 'a lookaround'],
    ['(?<!a)b', 'a lookaround'],
    ['.*.*.*.*x', 'more than 3 quantifiers'],
  ])('%s is refused: %s', (pattern, reason) => {
    expect(unsafeReason(pattern)).toBe(reason);
    expect(() => compileSubscriptionRegex(pattern)).toThrow(/unsafe/);
  });

  test.each(['orders-.*', 'orders|payments', '(ab|cd)-events', 'logs\\.[a-z]+-v[0-9]+', '[(+*]x'])(
    '%s is accepted',
    (pattern) => {
      expect(unsafeReason(pattern)).toBeNull();
      expect(compileSubscriptionRegex(pattern)).toBeInstanceOf(RegExp);
    },
  );

  test('anchored, bounded, and invalid syntax refused', () => {
    const regex = compileSubscriptionRegex('orders|payments');
    expect(regex.test('orders')).toBe(true);
    expect(regex.test('orders-eu')).toBe(false);
    expect(regex.test('xpayments')).toBe(false);
    expect(() => compileSubscriptionRegex('a'.repeat(subscriptionRegexMax + 1))).toThrow(/1-255/);
    expect(() => compileSubscriptionRegex('')).toThrow(/1-255/);
    expect(() => compileSubscriptionRegex('[a-')).toThrow(/not a valid expression/);
  });
});
