// Checks for untrusted request input: path parameters, query strings and JSON bodies. Each
// returns a typed value or throws ApiError (INVALID_REQUEST, INVALID_TOPIC_EXCEPTION), so a
// route handler only ever sees values it can pass to the broker.
import { topicNameProblem } from '../../broker/index.ts';
import { ApiError } from '../errors.ts';

export type Query = Readonly<Record<string, unknown>>;

export function invalid(message: string): ApiError {
  return new ApiError('INVALID_REQUEST', message);
}

export function topicParam(value: unknown): string {
  const problem = topicNameProblem(value);
  if (problem !== null) throw new ApiError('INVALID_TOPIC_EXCEPTION', problem);
  return value as string;
}

/**
 * A topic clients may create, delete, reconfigure or produce to: names starting with `__` are
 * the cluster's internal topics (__consumer_offsets), written only by the node itself.
 */
export function userTopicParam(value: unknown): string {
  const name = topicParam(value);
  if (name.startsWith('__')) {
    throw new ApiError('INVALID_TOPIC_EXCEPTION', `'${name}': names starting with __ are internal`);
  }
  return name;
}

/** Partition numbers are Kafka's int32, non-negative. */
export function partitionParam(value: unknown): number {
  return integerFrom(value, 'partition', 0, 2 ** 31 - 1);
}

function integerFrom(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'string' || !/^-?\d{1,16}$/.test(value)) {
    throw invalid(`${name} must be an integer, got ${JSON.stringify(value)}`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw invalid(`${name} must be in [${min}, ${max}], got ${value}`);
  }
  return n;
}

/** An integer query parameter; a repeated parameter is refused rather than guessed at. */
export function intQuery(
  query: Query,
  name: string,
  range: { readonly min: number; readonly max: number; readonly default?: number },
): number {
  const value = query[name];
  if (value === undefined) {
    if (range.default === undefined) throw invalid(`query parameter '${name}' is required`);
    return range.default;
  }
  return integerFrom(value, name, range.min, range.max);
}

export function enumQuery<T extends string>(
  query: Query,
  name: string,
  values: readonly T[],
  fallback: T,
): T {
  const value = query[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw invalid(`${name} must be one of ${values.join(', ')}`);
  }
  return value as T;
}

/** A JSON object: not null, an array, or a binary body (a Buffer is an object too). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    !ArrayBuffer.isView(value)
  );
}

/** A JSON body that must be an object. */
export function objectBody(body: unknown): Record<string, unknown> {
  if (!isPlainObject(body)) throw invalid('the body must be a JSON object');
  return body;
}

export function integerField(
  body: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number {
  const value = body[name];
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(`${name} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

/** Topic configs: Kafka names → string values; numbers and booleans are taken as strings. */
export function configsField(
  body: Record<string, unknown>,
  name: string,
  allowNull: boolean,
): Record<string, string | null> {
  const value = body[name];
  if (value === undefined) return {};
  if (!isPlainObject(value)) throw invalid(`${name} must be an object`);
  const configs: Record<string, string | null> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v === 'string') configs[key] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') configs[key] = String(v);
    else if (v === null && allowNull) configs[key] = null;
    else throw invalid(`config '${key}' must be a string, number or boolean`);
  }
  return configs;
}
