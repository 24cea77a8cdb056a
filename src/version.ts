/** The operator's version, reported in logs, metrics and the user agent. */
export const VERSION = "0.1.0";
