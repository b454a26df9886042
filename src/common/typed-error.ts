// The shape every module's expected failures share: a code from the module's `as const`
// catalog, whether the caller may retry, and the cause. Only src/api/errors.ts maps codes to HTTP.

export class TypedError<Code extends string> extends Error {
  readonly code: Code;
  readonly retriable: boolean;
  /** Extra fields the API passes through to clients (e.g. `leader`, `highWatermark`). */
  readonly details: Readonly<Record<string, unknown>>;
  constructor(
    code: Code,
    message: string,
    options: { retriable: boolean; cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retriable = options.retriable;
    this.details = options.details ?? {};
  }
}
