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
# Usage: hack/controlplane-build.sh [--print-dir]
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

if [ "${1:-}" = "--print-dir" ]; then
  echo "$cache/bin"
  exit 0
fi

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
gwdest="$cache/bin/gateway-api-$gwapi"
if [ -f "$gwdest/crds/gateway.networking.k8s.io_httproutes.yaml" ]; then
  say "gateway-api $gwapi CRDs: cached in $gwdest"
else
  gwdir=$(cd "$root/hack/tools/traefik" && go mod download -json sigs.k8s.io/gateway-api | awk -F'"' '$2 == "Dir" { print $4 }')
  [ -d "$gwdir/config/crd/standard" ] || die "gateway-api $gwapi: no config/crd/standard in the downloaded module ($gwdir)"
  tmp=$(mktemp -d "$cache/bin/.build-gateway-api.XXXXXX")
  mkdir -p "$tmp/crds" && cp "$gwdir"/config/crd/standard/*.yaml "$tmp/crds/" && chmod 644 "$tmp"/crds/*.yaml
  rm -rf "$gwdest" && mv "$tmp" "$gwdest"
  say "gateway-api $gwapi CRDs: copied to $gwdest"
fi
say "all binaries ready under $cache/bin"
