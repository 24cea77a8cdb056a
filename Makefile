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
        sandbox-up sandbox-down sandbox-status demo crds crds-check run

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 20

$(DEPS): package.json package-lock.json
	@echo "[deps] npm ci (Node $$(node --version 2>/dev/null || echo '?') installs Node 24 from the lock)"
	npm ci --no-audit --no-fund
	@touch $@

deps: $(DEPS) ## install npm dependencies (npm ci) when the lock changed

controlplane: ## build or reuse kube-apiserver, controller-manager, scheduler, kubectl, etcd, kwok, helm
	@hack/controlplane-build.sh

typecheck: $(DEPS) ## tsc over src, tests and benchmarks
	npm run -s typecheck

lint: $(DEPS) ## eslint and prettier --check
	npm run -s lint

format: $(DEPS) ## rewrite files with prettier and eslint --fix
	npm run -s format

crds: $(DEPS) ## regenerate crds/ from the zod schemas in src/api
	$(NODE) scripts/gen-crds.ts

crds-check: $(DEPS) ## fail when the committed CRD differs from the schemas
	$(NODE) scripts/gen-crds.ts --check

test-unit: $(DEPS) ## unit tests: no cluster, seconds
	npm run -s test:unit

test-integration: $(DEPS) controlplane ## integration tests on a real control plane the suite starts itself
	npm run -s test:integration

test: $(DEPS) ## everything: typecheck, lint, CRD drift, unit and integration tests
	$(MAKE) --no-print-directory typecheck lint crds-check
	$(MAKE) --no-print-directory test-unit
	$(MAKE) --no-print-directory test-integration

sandbox-up: $(DEPS) controlplane ## start a background control plane; writes .sandbox/kubeconfig
	$(NODE) src/testing/cli.ts up --dir .sandbox

sandbox-down: $(DEPS) ## stop the background control plane; leaves no process behind
	$(NODE) src/testing/cli.ts down --dir .sandbox

sandbox-status: $(DEPS) ## is the sandbox up, and how healthy is it
	$(NODE) src/testing/cli.ts status --dir .sandbox

demo: $(DEPS) controlplane ## the main job: a control plane, the operator and a rolling deployment shown live
	$(NODE) scripts/demo.ts

run: $(DEPS) ## run the operator against $$KUBECONFIG (e.g. the sandbox), pretty logs on a terminal
	$(NODE) src/main.ts
