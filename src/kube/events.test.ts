import { describe, expect, it } from "vitest";

import { NotFoundError, TransientError } from "./errors.ts";
import { EventRecorder, type DropReason, type EventSeriesPatch, type EventSink } from "./events.ts";
import { FakeClock, settle } from "./fake-clock.ts";
import type { Event, KubeObject } from "./objects.ts";

class RecordingSink implements EventSink {
  readonly created: Event[] = [];
  readonly patches: { name: string; patch: EventSeriesPatch }[] = [];
  failCreates = 0;
  patchError: Error | undefined;

  create(event: Event): Promise<Event> {
    if (this.failCreates > 0) {
      this.failCreates--;
      return Promise.reject(new TransientError("503"));
    }
    this.created.push(event);
    return Promise.resolve(event);
  }

  patch(_namespace: string, name: string, patch: EventSeriesPatch): Promise<unknown> {
    if (this.patchError !== undefined) return Promise.reject(this.patchError);
    this.patches.push({ name, patch });
    return Promise.resolve({});
  }
}

const endpoint: KubeObject = {
  apiVersion: "serving.modelendpoint.io/v1alpha1",
  kind: "ModelEndpoint",
  metadata: { name: "fraud", namespace: "ml", uid: "uid-1", resourceVersion: "7" },
};

function setup(options: { burst?: number } = {}) {
  const clock = new FakeClock();
  const sink = new RecordingSink();
  const dropped: DropReason[] = [];
  const recorder = new EventRecorder({
    sink,
    reportingController: "serving.modelendpoint.io/model-endpoint-operator",
    reportingInstance: "operator-0",
    clock,
    random: () => 0.5,
    burst: options.burst ?? 25,
    refillIntervalMs: 10_000,
    seriesFlushMs: 10_000,
    onDropped: (reason) => dropped.push(reason),
  });
  return { clock, sink, recorder, dropped };
}

const scaled = { type: "Normal", reason: "ScaledUp", action: "Scale", note: "m2: 1 -> 2 replicas" } as const;

describe("EventRecorder", () => {
  it("creates an events.k8s.io/v1 Event about the object", async () => {
    const { sink, recorder } = setup();
    recorder.record(endpoint, scaled);
    await recorder.flush();
    expect(sink.created).toHaveLength(1);
    expect(sink.created[0]).toMatchObject({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { namespace: "ml", name: "fraud.8888888888888888" },
      reportingController: "serving.modelendpoint.io/model-endpoint-operator",
      reportingInstance: "operator-0",
      type: "Normal",
      reason: "ScaledUp",
      action: "Scale",
      note: "m2: 1 -> 2 replicas",
      regarding: {
        apiVersion: "serving.modelendpoint.io/v1alpha1",
        kind: "ModelEndpoint",
        name: "fraud",
        namespace: "ml",
        uid: "uid-1",
      },
    });
    expect(sink.created[0]?.eventTime).toMatch(/\.\d{6}Z$/);
  });

  it("aggregates identical events into one Event's series, written in batches", async () => {
    const { clock, sink, recorder } = setup();
    recorder.record(endpoint, scaled);
    await settle();
    for (let i = 0; i < 4; i++) {
      await clock.advance(1000);
      recorder.record(endpoint, scaled);
    }
    expect(sink.created).toHaveLength(1);
    expect(sink.patches).toHaveLength(0); // batched
    await clock.advance(10_000);
    expect(sink.patches).toHaveLength(1);
    expect(sink.patches[0]?.name).toBe(sink.created[0]?.metadata?.name);
    expect(sink.patches[0]?.patch.series.count).toBe(5);

    await clock.advance(60_000); // nothing new: no write
    expect(sink.patches).toHaveLength(1);
  });

  it("a different note, reason or object is a different Event", async () => {
    const { sink, recorder } = setup();
    recorder.record(endpoint, scaled);
    recorder.record(endpoint, { ...scaled, note: "m2: 2 -> 3 replicas" });
    recorder.record(endpoint, { ...scaled, reason: "ScaledDown" });
    recorder.record({ ...endpoint, metadata: { ...endpoint.metadata, uid: "uid-2" } }, scaled);
    await recorder.flush();
    expect(sink.created).toHaveLength(4);
  });

  it("starts a new Event once a series has been quiet for the series window", async () => {
    const { clock, sink, recorder } = setup();
    recorder.record(endpoint, scaled);
    await settle();
    await clock.advance(7 * 60_000);
    recorder.record(endpoint, scaled);
    await recorder.flush();
    expect(sink.created).toHaveLength(2);
  });

  it("rate-limits new Events per object and refills over time", async () => {
    const { clock, sink, recorder, dropped } = setup({ burst: 3 });
    for (let i = 0; i < 5; i++) recorder.record(endpoint, { ...scaled, note: `step ${i}` });
    await recorder.flush();
    expect(sink.created).toHaveLength(3);
    expect(dropped).toEqual(["rateLimited", "rateLimited"]);

    const other: KubeObject = { ...endpoint, metadata: { ...endpoint.metadata, uid: "uid-other" } };
    recorder.record(other, scaled); // another object has its own bucket
    await clock.advance(10_000);
    recorder.record(endpoint, { ...scaled, note: "after refill" });
    await recorder.flush();
    expect(sink.created.map((event) => event.note)).toEqual([
      "step 0",
      "step 1",
      "step 2",
      scaled.note,
      "after refill",
    ]);
  });

  it("never throws: a failed create is logged, counted, and the next identical event tries again", async () => {
    const { sink, recorder, dropped } = setup();
    sink.failCreates = 1;
    expect(() => {
      recorder.record(endpoint, scaled);
    }).not.toThrow();
    await recorder.flush();
    expect(dropped).toEqual(["createFailed"]);
    recorder.record(endpoint, scaled);
    await recorder.flush();
    expect(sink.created).toHaveLength(1);
  });

  it("drops an event about an object without kind or name instead of throwing", async () => {
    const { sink, recorder, dropped } = setup();
    recorder.record({ metadata: {} }, scaled);
    await recorder.flush();
    expect(sink.created).toHaveLength(0);
    expect(dropped).toEqual(["invalidObject"]);
  });

  it("forgets a series whose Event is gone (expired by the API server's TTL)", async () => {
    const { clock, sink, recorder } = setup();
    recorder.record(endpoint, scaled);
    await settle();
    recorder.record(endpoint, scaled);
    sink.patchError = new NotFoundError("404");
    await clock.advance(10_000);
    sink.patchError = undefined;
    recorder.record(endpoint, scaled);
    await recorder.flush();
    expect(sink.created).toHaveLength(2);
  });

  it("truncates a note to 1 kB", async () => {
    const { sink, recorder } = setup();
    recorder.record(endpoint, { ...scaled, note: "é".repeat(2000) });
    await recorder.flush();
    const note = sink.created[0]?.note ?? "";
    expect(Buffer.byteLength(note)).toBeLessThanOrEqual(1024);
    expect(note.endsWith("...")).toBe(true);
  });
});
