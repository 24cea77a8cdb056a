import { describe, expect, it } from "vitest";

import { quantityValue } from "./spec.ts";

describe("quantityValue", () => {
  it("reads every suffix Kubernetes allows, and orders quantities written in other units", () => {
    expect(quantityValue("2")).toBe(2);
    expect(quantityValue("500m")).toBe(0.5);
    expect(quantityValue("0.5")).toBe(quantityValue("500m"));
    expect(quantityValue("1Gi")).toBe(quantityValue("1024Mi"));
    expect(quantityValue("1025Mi")).toBeGreaterThan(quantityValue("1Gi"));
    expect(quantityValue("1k")).toBe(1000);
    expect(quantityValue("1e3")).toBe(1000);
    expect(quantityValue("1.5E-3")).toBe(0.0015);
    expect(quantityValue("+.5Ki")).toBe(512);
    expect(quantityValue("100n")).toBeCloseTo(1e-7, 15);
  });

  it("is NaN for what is not a quantity", () => {
    for (const bad of ["", "1GB", "Gi", "1 Gi", "--1", "1.2.3"]) expect(quantityValue(bad), bad).toBeNaN();
  });
});
