import { describe, expect, it } from "vitest";

import { Metrics } from "./metrics.ts";

describe("Metrics", () => {
  it("sets per-model gauges and removes series of models and endpoints that went away", async () => {
    const m = new Metrics({ defaultMetrics: false });
    m.observeEndpoint("ml", "fraud", [
      {
        id: "m1",
        state: "DEPLOYED",
        replicas: 5,
        readyReplicas: 5,
        availableReplicas: 5,
        trafficPercent: 60,
      },
      {
        id: "m2",
        state: "BEING_DEPLOYED",
        replicas: 2,
        readyReplicas: 1,
        availableReplicas: 1,
        trafficPercent: 40,
      },
    ]);
    let text = await m.registry.metrics();
    expect(text).toContain(
      'modelendpoint_replicas{namespace="ml",endpoint="fraud",deployed_model="m2",state="BEING_DEPLOYED"} 2',
    );
    expect(text).toContain(
      'modelendpoint_traffic_percent{namespace="ml",endpoint="fraud",deployed_model="m1"} 60',
    );

    // m2 completes (state changes), m1 is removed from spec.
    m.observeEndpoint("ml", "fraud", [
      {
        id: "m2",
        state: "DEPLOYED",
        replicas: 5,
        readyReplicas: 5,
        availableReplicas: 5,
        trafficPercent: 100,
      },
    ]);
    text = await m.registry.metrics();
    expect(text).not.toContain('deployed_model="m1"');
    expect(text).not.toContain('state="BEING_DEPLOYED"');
    expect(text).toContain(
      'modelendpoint_replicas{namespace="ml",endpoint="fraud",deployed_model="m2",state="DEPLOYED"} 5',
    );

    m.forgetEndpoint("ml", "fraud");
    expect(await m.registry.metrics()).not.toContain('endpoint="fraud"');
  });

  it("keeps registries apart", async () => {
    const a = new Metrics({ defaultMetrics: false });
    const b = new Metrics({ defaultMetrics: false });
    a.statusWrites.inc();
    expect(await b.registry.getSingleMetricAsString("modelendpoint_status_writes_total")).toContain(
      "modelendpoint_status_writes_total 0",
    );
  });
});
