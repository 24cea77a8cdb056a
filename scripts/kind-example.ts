/**
 * Prints an example ModelEndpoint (examples/*.yaml) rewritten to run on a small kind cluster, for
 * `make kind-examples`: every containerSpec gets a real serving image that answers 200 on every
 * path (the health route included) and small explicit resources (they win over the machine type,
 * whose n1-standard-2 asks 2 CPUs and 7.5Gi per replica). The rewrite is deterministic, so
 * successive files keep identical (immutable) containerSpecs.
 *
 * Usage: node scripts/kind-example.ts examples/01-first-deployment.yaml | kubectl apply -f -
 * Environment: KIND_SERVING_IMAGE (default hashicorp/http-echo:1.0).
 */
import { readFileSync } from "node:fs";

import { parseAllDocuments } from "yaml";

const image = process.env["KIND_SERVING_IMAGE"] ?? "hashicorp/http-echo:1.0";
const file = process.argv[2];
if (file === undefined) {
  console.error("usage: node scripts/kind-example.ts <examples/file.yaml>");
  process.exit(2);
}

interface ContainerSpec {
  imageUri?: string;
  args?: string[];
  ports?: { containerPort: number }[];
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
    const port = spec.ports?.[0]?.containerPort ?? 8080;
    const version = spec.imageUri ?? "unknown";
    spec.imageUri = image;
    spec.args = [`-listen=:${port}`, `-text=${version}`];
    spec.resources = { requests: { cpu: "10m", memory: "16Mi" }, limits: { memory: "32Mi" } };
  }
  out.push(JSON.stringify(obj));
}
process.stdout.write(out.join("\n---\n") + "\n");
