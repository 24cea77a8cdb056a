# model-endpoint-operator: the commands people and CI use. `make help` lists them.
#
# Everything runs on the Node.js 24 that package.json pins (node_modules/.bin comes first on PATH),
# and installs what it needs by itself: npm ci when the lock changed, the control-plane binaries
# (Go builds) into a cache outside the repository, reused when present.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
NODE := $(CURDIR)/node_modules/.bin/node
DEPS := node_modules/.deps-installed

.DEFAULT_GOAL := help
.PHONY: help deps test test-unit test-integration typecheck lint format controlplane \
        sandbox-up sandbox-down sandbox-status demo crds crds-check run \
        chart-crds chart-crds-check image model-server-image kind-up kind-examples kind-down chaos chaos-short \
        argo-rollouts bench bench-quick vertex-api demo-vertex

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 20

$(DEPS): package.json package-lock.json
	@echo "[deps] npm ci (Node $$(node --version 2>/dev/null || echo '?') installs Node 24 from the lock)"
	npm ci --no-audit --no-fund
	@touch $@

deps: $(DEPS) ## install npm dependencies (npm ci) when the lock changed

controlplane: ## build or reuse kube-apiserver, controller-manager, scheduler, kubectl, etcd, kwok, metrics-server, helm, traefik
	@hack/controlplane-build.sh

argo-rollouts: ## the same plus the Argo Rollouts controller and its CRDs, the rollout benchmark's third system (not part of make test)
	@hack/controlplane-build.sh --with argo-rollouts

typecheck: $(DEPS) ## tsc over src, tests and benchmarks
	npm run -s typecheck

lint: $(DEPS) ## eslint and prettier --check
	npm run -s lint

format: $(DEPS) ## rewrite files with prettier and eslint --fix
	npm run -s format

crds: $(DEPS) ## regenerate crds/ from the zod schemas in src/api
	$(NODE) scripts/gen-crds.ts
	@$(MAKE) --no-print-directory chart-crds

crds-check: $(DEPS) ## fail when the committed CRD differs from the schemas
	$(NODE) scripts/gen-crds.ts --check

test-unit: $(DEPS) ## unit tests: no cluster, seconds
	npm run -s test:unit

test-integration: $(DEPS) controlplane ## integration tests on a real control plane the suite starts itself
	npm run -s test:integration

test: $(DEPS) ## everything: typecheck, lint, CRD drift, unit and integration tests
	$(MAKE) --no-print-directory typecheck lint crds-check chart-crds-check
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-integration
	$(MAKE) --no-print-directory chaos-short

sandbox-up: $(DEPS) controlplane ## start a background control plane; writes .sandbox/kubeconfig
	$(NODE) src/testing/sandbox.ts up --dir .sandbox

sandbox-down: $(DEPS) ## stop the background control plane; leaves no process behind
	$(NODE) src/testing/sandbox.ts down --dir .sandbox

sandbox-status: $(DEPS) ## is the sandbox up, and how healthy is it
	$(NODE) src/testing/sandbox.ts status --dir .sandbox

demo: $(DEPS) controlplane ## the main job: a control plane, the operator and a rolling deployment shown live
	$(NODE) scripts/demo.ts

demo-vertex: $(DEPS) controlplane ## a rolling deployment and a rollback through the Vertex AI REST API only
	$(NODE) scripts/demo-vertex.ts

chaos: $(DEPS) controlplane ## rollouts under faults for 8 minutes (docs/reliability.md); SEED=n repeats a run
	$(NODE) scripts/chaos.ts $(if $(SEED),--seed=$(SEED))

chaos-short: $(DEPS) controlplane ## the same for 1 minute of faults (part of make test)
	$(NODE) scripts/chaos.ts --short $(if $(SEED),--seed=$(SEED))

bench: $(DEPS) argo-rollouts ## ModelEndpoint against Deployment and Argo Rollouts, side by side, a fleet of 1000, predictions through the Gateway (BENCHMARKS.md; ~50 min)
	npm run -s bench

bench-quick: $(DEPS) argo-rollouts ## the same in about 8 minutes (a fleet of 100, 10 s per prediction path)
	npm run -s bench -- --quick

vertex-api: $(DEPS) ## the Vertex AI REST API on http://127.0.0.1:$${VERTEX_API_PORT:-8088} against $$KUBECONFIG, local mode (docs/vertex-api.md)
	$(NODE) src/vertex/main.ts --local --port=$${VERTEX_API_PORT:-8088}

run: $(DEPS) ## run the operator against $$KUBECONFIG (e.g. the sandbox), pretty logs on a terminal
	$(NODE) src/main.ts

# --- Shipping: the Helm chart, the image, a kind cluster (docs/install.md) -------------------------

CHART := charts/model-endpoint-operator
IMAGE ?= model-endpoint-operator:dev
MODEL_SERVER_IMAGE ?= model-server:dev
KIND ?= kind
KIND_CLUSTER ?= model-endpoint-operator
KIND_NAMESPACE ?= model-endpoint-system
KIND_EXAMPLES_NAMESPACE ?= ml
HELM ?= helm
KUBECTL ?= kubectl

chart-crds: ## copy crds/ into the chart (the chart ships the same CRD; see docs/install.md)
	rm -f $(CHART)/crds/*.yaml
	cp crds/*.yaml $(CHART)/crds/

chart-crds-check: ## fail when the chart's crds/ differs from crds/
	@scripts/chart-crds-check.sh

image: ## build the operator image $(IMAGE) with Docker (multi-stage, distroless, non-root)
	docker build --tag $(IMAGE) .

model-server-image: ## build the reference model server's image $(MODEL_SERVER_IMAGE) with Docker
	docker build --tag $(MODEL_SERVER_IMAGE) examples/model-server

kind-up: image model-server-image ## with Docker and kind: create the cluster, load the images, helm install the chart
	$(KIND) get clusters | grep -qx '$(KIND_CLUSTER)' || $(KIND) create cluster --config kind-config.yaml --name $(KIND_CLUSTER)
	$(KIND) load docker-image $(IMAGE) --name $(KIND_CLUSTER)
	$(KIND) load docker-image $(MODEL_SERVER_IMAGE) --name $(KIND_CLUSTER)
	$(KUBECTL) --context kind-$(KIND_CLUSTER) apply --server-side -f $(CHART)/crds/
	image='$(IMAGE)'; $(HELM) upgrade --install model-endpoint-operator $(CHART) --kube-context kind-$(KIND_CLUSTER) \
	  --namespace $(KIND_NAMESPACE) --create-namespace \
	  --set image.repository="$${image%:*}" --set image.tag="$${image##*:}" \
	  --set image.pullPolicy=Never --wait --timeout 3m

kind-examples: $(DEPS) ## with kind: apply examples 01-04 (rewritten to the reference model server) and wait for each
	$(KUBECTL) --context kind-$(KIND_CLUSTER) create namespace $(KIND_EXAMPLES_NAMESPACE) --dry-run=client -o yaml \
	  | $(KUBECTL) --context kind-$(KIND_CLUSTER) apply -f -
	for f in examples/01-first-deployment.yaml examples/02-rolling-deployment.yaml examples/03-rollback.yaml \
	         examples/04-traffic-split.yaml; do \
	  echo "[kind-examples] $$f"; \
	  KIND_SERVING_IMAGE='$(MODEL_SERVER_IMAGE)' $(NODE) scripts/kind-example.ts $$f \
	    | $(KUBECTL) --context kind-$(KIND_CLUSTER) -n $(KIND_EXAMPLES_NAMESPACE) apply --server-side -f - -o name \
	    | while read -r obj; do \
	        $(KUBECTL) --context kind-$(KIND_CLUSTER) -n $(KIND_EXAMPLES_NAMESPACE) wait --for=condition=Ready $$obj --timeout=10m; \
	      done; \
	done
	$(KUBECTL) --context kind-$(KIND_CLUSTER) -n $(KIND_EXAMPLES_NAMESPACE) get modelendpoints

kind-down: ## with kind: delete the cluster
	$(KIND) delete cluster --name $(KIND_CLUSTER)
