// Deep copy of what travels on the simulated wire: the simulator copies every message at send
// so sender and receiver never share an object. structuredClone did this and cost ~6 % of a
// run; messages are plain data (objects, arrays, strings, numbers, bigints, byte arrays), which
// a direct walk copies several times faster. Anything else goes to structuredClone, whose
// results this matches (a Buffer comes back as a Uint8Array, as structuredClone returns it).
export function cloneWire<T>(value: T): T {
  return copy(value) as T;
}

function copy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(copy);
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) out[key] = copy((value as Record<string, unknown>)[key]);
    return out;
  }
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [copy(k), copy(v)]));
  if (value instanceof Set) return new Set([...value].map(copy));
  return structuredClone(value);
}
