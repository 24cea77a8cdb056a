import { describe, expect, it } from "vitest";

import { parseModel } from "../api/model-parse.ts";
import type { ResourceClient } from "../kube/client.ts";
import type { KubeObject } from "../kube/objects.ts";
import { toVertexModel, uploadModel, type ModelClients } from "./modelservice.ts";

const parent = { project: "ml", location: "us-central1", namespace: "ml" };

/** Clients that keep what upload creates. */
function clients(): ModelClients & { created: KubeObject[] } {
  const created: KubeObject[] = [];
  const models = {
    create: (object: KubeObject) => {
      created.push(object);
      return Promise.resolve(object);
    },
  } as unknown as ResourceClient<KubeObject>;
  return { models, endpoints: {} as ResourceClient<KubeObject>, created };
}

describe("uploadModel", () => {
  it("keeps the Model's artifactUri in the version's container spec, and shows it where Vertex does", async () => {
    const c = clients();
    await uploadModel(c, parent, {
      modelId: "fraud",
      model: {
        displayName: "fraud",
        artifactUri: "gs://models/fraud/1",
        containerSpec: { imageUri: "registry.example/fraud:1", sharedMemorySizeMb: "512" },
      },
    });
    const [object] = c.created;
    const spec = (object as { spec: { versions: { containerSpec: object }[] } }).spec;
    // int64 as proto3 JSON sends it (a string) is stored as the number the CRD holds.
    expect(spec.versions[0]?.containerSpec).toEqual({
      imageUri: "registry.example/fraud:1",
      sharedMemorySizeMb: 512,
      artifactUri: "gs://models/fraud/1",
    });
    const parsed = parseModel({ ...object, metadata: { name: "fraud", namespace: "ml" } });
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    const [version] = parsed.value.spec.versions;
    if (version === undefined) throw new Error("no version");
    const shown = toVertexModel(parent, parsed.value, version);
    expect(shown["artifactUri"]).toBe("gs://models/fraud/1");
    expect(shown["containerSpec"]).toEqual({ imageUri: "registry.example/fraud:1", sharedMemorySizeMb: 512 });
  });
});
