// Regex subscriptions compiled safely: bounded length, the `u` flag, anchored, and a syntactic
// refusal of the shapes that backtrack badly (backreferences, lookarounds, a quantified group
// holding a quantifier or an alternation, more than 3 quantifiers). It only ever runs against
// topic names (≤ 249 characters), never record data. Conservative: some safe patterns are
// refused too (docs/api.md says how to write them).
import { GroupError } from './group-errors.ts';

export const subscriptionRegexMax = 255;
/** Adjacent quantifiers backtrack polynomially (n^k over a 249-character name): k ≤ 3. */
export const regexQuantifiersMax = 3;

/** The compiled, anchored expression, or INVALID_REQUEST with the reason. */
export function compileSubscriptionRegex(source: string): RegExp {
  if (source.length === 0 || source.length > subscriptionRegexMax) {
    throw invalid(`subscribedTopicRegex must be 1-${subscriptionRegexMax} characters`, {
      limit: 'subscriptionRegexMax',
    });
  }
  const unsafe = unsafeReason(source);
  if (unsafe !== null) throw invalid(`subscribedTopicRegex refused as unsafe: ${unsafe}`);
  try {
    return new RegExp(`^(?:${source})$`, 'u');
  } catch (error) {
    throw invalid(`subscribedTopicRegex is not a valid expression: ${(error as Error).message}`);
  }
}

function invalid(message: string, details: Record<string, unknown> = {}): GroupError {
  return new GroupError('INVALID_REQUEST', message, details);
}

interface Frame {
  /** The group holds a quantifier or an alternation at any depth. */
  risky: boolean;
}

/** Why the pattern may backtrack catastrophically, or null. */
export function unsafeReason(source: string): string | null {
  if (/\\[1-9]|\\k</u.test(source)) return 'a backreference';
  if (/\(\?<?[=!]/u.test(source)) return 'a lookaround';
  const stack: Frame[] = [{ risky: false }];
  let inClass = false;
  let quantifiers = 0;
  for (let i = 0; i < source.length; i += 1) {
    const c = source[i];
    if (c === '\\') {
      i += 1;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    const top = stack[stack.length - 1] as Frame;
    if (c === '[') inClass = true;
    else if (c === '(') stack.push({ risky: false });
    else if (c === '|') top.risky = true;
    else if (c === ')') {
      const closed = stack.pop();
      if (closed === undefined || stack.length === 0) return null; // Unbalanced: RegExp refuses.
      if (closed.risky && isQuantifier(source, i + 1)) return 'a nested quantifier';
      const parent = stack[stack.length - 1] as Frame;
      if (closed.risky || isQuantifier(source, i + 1)) parent.risky = true;
    } else if (isQuantifier(source, i)) {
      top.risky = true;
      quantifiers += 1;
      if (quantifiers > regexQuantifiersMax) return `more than ${regexQuantifiersMax} quantifiers`;
    }
  }
  return null;
}

function isQuantifier(source: string, at: number): boolean {
  const c = source[at];
  if (c === '*' || c === '+' || c === '?') return at > 0 && source[at - 1] !== '(';
  return c === '{' && /^\{\d+(,\d*)?\}/u.test(source.slice(at));
}
