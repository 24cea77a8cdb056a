import { pino } from "pino";
import { describe, expectTypeOf, it } from "vitest";

import type { Logger } from "./logger.ts";

describe("Logger", () => {
  it("accepts a pino logger and its children as they are", () => {
    const logger = pino({ enabled: false });
    expectTypeOf(logger).toExtend<Logger>();
    expectTypeOf(logger.child({ component: "informer" })).toExtend<Logger>();
  });
});
