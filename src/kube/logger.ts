/**
 * The logging interface the runtime writes to: the subset of pino's Logger it uses, so a pino
 * logger (or a child of one) can be passed as it is, and tests can pass a recorder.
 */
export type LogFn = (fields: Record<string, unknown>, message: string) => void;

export interface Logger {
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
}

const ignore: LogFn = () => undefined;

/** Discards everything. */
export const noopLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
