// Wrapper module: builds Traefik, the local control plane's Gateway API implementation, at a pinned
// version. It repeats the replace and exclude directives of Traefik's own go.mod, which a dependent module
// does not inherit.
module github.com/model-endpoint-operator/hack/tools/traefik

go 1.26.0

replace (
	github.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e
	github.com/gorilla/mux => github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59
	github.com/mailgun/minheap => github.com/containous/minheap v0.0.0-20190809180810-6e71eb837595
)

exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible

require (
	github.com/traefik/traefik/v3 v3.6.12 // indirect
	// The Gateway API release Traefik is built against; its CRDs are installed on the local control plane.
	sigs.k8s.io/gateway-api v1.4.0 // indirect
)
