#!/usr/bin/env bash
# Fails when the Helm chart's crds/ folder differs from the repository's crds/ (the one source,
# generated from src/api). `make chart-crds` copies it; `make crds` does so after generating.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
chart="$root/charts/model-endpoint-operator/crds"
if diff -r "$root/crds" "$chart" >/dev/null; then
  echo "chart-crds-check: charts/model-endpoint-operator/crds matches crds/"
  exit 0
fi
echo "chart-crds-check: charts/model-endpoint-operator/crds differs from crds/; run 'make chart-crds'." >&2
diff -ru "$root/crds" "$chart" | head -n 40 >&2 || true
exit 1
