/**
 * Prints an example ModelEndpoint (examples/*.yaml) rewritten to run on a small kind cluster, for
 * `make kind-examples`: every containerSpec gets the reference model server's image
 * (examples/model-server, built and loaded into kind by `make kind-up`), which answers the health
 * and predict routes the operator passes it as AIP_* variables, and small explicit resources (they
 * win over the machine type, whose n1-standard-2 asks 1730m CPU and 5583Mi per replica). The rewrite is
 * deterministic, so successive files keep identical (immutable) containerSpecs.
 *
 * Usage: node scripts/kind-example.ts examples/01-first-deployment.yaml | kubectl apply -f -
 * Environment: KIND_SERVING_IMAGE (default model-server:dev).
 */
import { readFileSync } from "node:fs";

import { parseAllDocuments } from "yaml";

const image = process.env["KIND_SERVING_IMAGE"] ?? "model-server:dev";
const file = process.argv[2];
if (file === undefined) {
  console.error("usage: node scripts/kind-example.ts <examples/file.yaml>");
  process.exit(2);
}

interface ContainerSpec {
  imageUri?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value: string }[];
  resources?: object;
}

const docs = parseAllDocuments(readFileSync(file, "utf8"));
const out: string[] = [];
for (const doc of docs) {
  const obj = doc.toJS() as { spec?: { deployedModels?: { containerSpec?: ContainerSpec }[] } } | null;
  if (obj === null) continue;
  for (const model of obj.spec?.deployedModels ?? []) {
    const spec = model.containerSpec;
    if (spec === undefined) continue;
    // The original image is kept as an environment variable: a revision's containerSpec differs
    // from its predecessor's as it did before the rewrite.
    const version = spec.imageUri ?? "unknown";
    spec.imageUri = image;
    // The image's own entrypoint runs the server; the example's arguments are for its own image.
    delete spec.command;
    delete spec.args;
    spec.env = [...(spec.env ?? []), { name: "EXAMPLE_IMAGE", value: version }];
    spec.resources = { requests: { cpu: "10m", memory: "48Mi" }, limits: { memory: "128Mi" } };
  }
  out.push(JSON.stringify(obj));
}
process.stdout.write(out.join("\n---\n") + "\n");
