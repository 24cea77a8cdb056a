#!/usr/bin/env bash
# Builds, or reuses, the binaries of the local control plane: kube-apiserver,
# kube-controller-manager, kube-scheduler and kubectl (Kubernetes), etcd, kwok, metrics-server (serves
# metrics.k8s.io from kwok's simulated resource usage), helm, and Traefik
# (the Gateway API implementation of the local data plane) with the Gateway API CRDs of the release
# Traefik is built against.
#
# Each tool has a wrapper Go module under hack/tools/<tool>/ that pins its version (go.mod) and
# its whole dependency graph (go.sum). Binaries go to a versioned cache outside the repository:
#
#   ${MEO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/model-endpoint-operator}/bin/<tool>-<version>/
#
# A tool whose folder is complete is reused; a build goes to a temporary folder first and is moved
# into place only when it succeeded, so an interrupted build never leaves a half-filled cache.
#
# On request only (--with argo-rollouts, which `make argo-rollouts` and the benchmarks pass): the
# Argo Rollouts controller, the third system of the rollout benchmark, with its CRDs next to it under
# bin/argo-rollouts-<version>/crds/. make test and make controlplane do not build it.
#
# Usage: hack/controlplane-build.sh [--print-dir] [--with argo-rollouts]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cache="${MEO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/model-endpoint-operator}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly

say() { printf '[controlplane %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf 'controlplane: error: %s\n' "$*" >&2; exit 1; }

if ! command -v go >/dev/null 2>&1; then
  die "Go is not installed or not on PATH. The local control plane is built from source with Go >= 1.26 (https://go.dev/doc/install); install it and run 'make controlplane' again."
fi
gov=$(go env GOVERSION | sed 's/^go//')
gomajor=${gov%%.*}; rest=${gov#*.}; gominor=${rest%%.*}
if [ "$gomajor" -lt 1 ] || { [ "$gomajor" -eq 1 ] && [ "$gominor" -lt 26 ]; }; then
  die "Go $gov is too old: the pinned Kubernetes release (hack/tools/kubernetes/go.mod) needs Go >= 1.26."
fi

# version_of <tool> <module>: the version the wrapper module pins.
version_of() {
  awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' \
    "$root/hack/tools/$1/go.mod"
}

# build <tool> <module> <version> <ldflags> <binary>=<package>...
build() {
  local tool=$1 module=$2 version=$3 ldflags=$4; shift 4
  local dest="$cache/bin/$tool-$version" missing=0 spec
  for spec in "$@"; do [ -x "$dest/${spec%%=*}" ] || missing=1; done
  if [ "$missing" -eq 0 ]; then
    say "$tool $version: cached in $dest"
    return 0
  fi
  say "$tool $version: building $(printf '%s ' "${@%%=*}")(module $module; a cold Kubernetes build takes 10-25 minutes on 2 cores)"
  mkdir -p "$cache/bin"
  local tmp started=$SECONDS
  tmp=$(mktemp -d "$cache/bin/.build-$tool.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  for spec in "$@"; do
    local bin=${spec%%=*} pkg=${spec#*=} log="$tmp/.build.log" n=0 line
    say "  $bin: compiling $pkg"
    # -v lists each package as it is compiled; count them so a long build shows it is moving.
    if ! (cd "$root/hack/tools/$tool" && go build -v -trimpath -ldflags "$ldflags" -o "$tmp/$bin" "$pkg") 2>"$log"; then
      if grep -qiE 'dial tcp|no such host|connection refused|i/o timeout|proxy|verifying|missing go.sum' "$log"; then
        tail -n 20 "$log" >&2
        die "$tool: a Go module could not be fetched (see above). Check that the Go module proxy is reachable (go env GOPROXY = $(go env GOPROXY)) and retry."
      fi
      tail -n 40 "$log" >&2
      die "$tool: 'go build $pkg' failed (see above)."
    fi
    n=$(grep -vc '^go: downloading' "$log" || true)
    say "  $bin: done ($n packages compiled, $((SECONDS - started))s so far)"
  done
  rm -f "$tmp/.build.log"
  rm -rf "$dest"
  mv "$tmp" "$dest"
  trap - EXIT
  say "$tool $version: built in $((SECONDS - started))s -> $dest"
}

# copy_crds <wrapper> <name> <module> <version> <folder in the module> <file glob>: the CRDs that the
# module zip of <module> (in the build list of hack/tools/<wrapper>) carries, into
# bin/<name>-<version>/crds/ (kept when already there).
copy_crds() {
  local wrapper=$1 name=$2 module=$3 version=$4 from=$5 glob=$6
  local dest="$cache/bin/$name-$version/crds" dir tmp
  if compgen -G "$dest/$glob" >/dev/null; then
    say "$name $version CRDs: cached in $dest"
    return 0
  fi
  dir=$(cd "$root/hack/tools/$wrapper" && go mod download -json "$module" | awk -F'"' '$2 == "Dir" { print $4 }')
  compgen -G "$dir/$from/$glob" >/dev/null || die "$name $version: no $from/$glob in the downloaded module ($dir)"
  mkdir -p "$cache/bin/$name-$version"
  tmp=$(mktemp -d "$cache/bin/.build-$name-crds.XXXXXX")
  cp "$dir/$from"/$glob "$tmp/" && chmod 644 "$tmp"/*
  rm -rf "$dest" && mv "$tmp" "$dest"
  say "$name $version CRDs: copied to $dest"
}

k8s=$(version_of kubernetes k8s.io/kubernetes)
k8s_minor=$(echo "$k8s" | cut -d. -f2)
k8s_ld="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ld="$k8s_ld -X $p.gitVersion=$k8s -X $p.gitMajor=1 -X $p.gitMinor=$k8s_minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
etcd=$(version_of etcd go.etcd.io/etcd/server/v3)
kwok=$(version_of kwok sigs.k8s.io/kwok)
helm=$(version_of helm helm.sh/helm/v3)
metrics_server=$(version_of metrics-server sigs.k8s.io/metrics-server)
traefik=$(version_of traefik github.com/traefik/traefik/v3)

argo_rollouts=$(version_of argo-rollouts github.com/argoproj/argo-rollouts)

with_argo_rollouts=0
while [ $# -gt 0 ]; do
  case "$1" in
    --print-dir) echo "$cache/bin"; exit 0 ;;
    --with)
      [ "${2:-}" = argo-rollouts ] || die "--with takes argo-rollouts (the only optional tool), not '${2:-}'"
      with_argo_rollouts=1; shift 2 ;;
    --with=argo-rollouts) with_argo_rollouts=1; shift ;;
    *) die "unknown argument '$1' (usage: hack/controlplane-build.sh [--print-dir] [--with argo-rollouts])" ;;
  esac
done

build etcd go.etcd.io/etcd/server/v3 "$etcd" "-s -w" etcd=go.etcd.io/etcd/server/v3
build kwok sigs.k8s.io/kwok "$kwok" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${kwok#v}" kwok=sigs.k8s.io/kwok/cmd/kwok
# metrics-server reads its version from client-go's version package (its own Makefile sets the same).
build metrics-server sigs.k8s.io/metrics-server "$metrics_server" "-s -w -X k8s.io/client-go/pkg/version.gitVersion=$metrics_server" \
  metrics-server=sigs.k8s.io/metrics-server/cmd/metrics-server
build helm helm.sh/helm/v3 "$helm" "-s -w -X helm.sh/helm/v3/internal/version.version=$helm" helm=helm.sh/helm/v3/cmd/helm
build kubernetes k8s.io/kubernetes "$k8s" "$k8s_ld" \
  kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
  kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
  kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler \
  kubectl=k8s.io/kubernetes/cmd/kubectl
build traefik github.com/traefik/traefik/v3 "$traefik" "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$traefik" \
  traefik=github.com/traefik/traefik/v3/cmd/traefik

# The Gateway API CRDs (standard channel) of the gateway-api module Traefik is built against: the
# module zip carries them under config/crd/standard.
gwapi=$(cd "$root/hack/tools/traefik" && go list -m -f '{{.Version}}' sigs.k8s.io/gateway-api)
copy_crds traefik gateway-api sigs.k8s.io/gateway-api "$gwapi" config/crd/standard '*.yaml'

if [ "$with_argo_rollouts" -eq 1 ]; then
  build argo-rollouts github.com/argoproj/argo-rollouts "$argo_rollouts" \
    "-s -w -X github.com/argoproj/argo-rollouts/utils/version.version=${argo_rollouts#v}" \
    rollouts-controller=github.com/argoproj/argo-rollouts/cmd/rollouts-controller
  # All five: the controller starts informers on Rollouts, AnalysisRuns, AnalysisTemplates,
  # ClusterAnalysisTemplates and Experiments, and waits for each to sync.
  copy_crds argo-rollouts argo-rollouts github.com/argoproj/argo-rollouts "$argo_rollouts" manifests/crds '*-crd.yaml'
fi
say "all binaries ready under $cache/bin"
