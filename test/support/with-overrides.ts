// `withOverrides`: a proxy of a real object with some of its members replaced, for tests that
// inject one failure or delay into a real client or reader and keep everything else as it is.

/** `target` with its methods bound to it (private fields work), some replaced. */
export function withOverrides<T extends object>(target: T, overrides: Record<string, unknown>): T {
  return new Proxy(target, {
    get(object, property) {
      if (typeof property === 'string' && property in overrides) return overrides[property];
      const value: unknown = Reflect.get(object, property, object);
      return typeof value === 'function'
        ? (value as (...a: unknown[]) => unknown).bind(object)
        : value;
    },
  });
}
