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
	github.com/BurntSushi/toml v1.6.0 // indirect
	github.com/Masterminds/goutils v1.1.1 // indirect
	github.com/Masterminds/semver/v3 v3.3.1 // indirect
	github.com/Masterminds/sprig/v3 v3.2.3 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/huandu/xstrings v1.5.0 // indirect
	github.com/imdario/mergo v0.3.16 // indirect
	github.com/mitchellh/copystructure v1.2.0 // indirect
	github.com/mitchellh/reflectwalk v1.0.2 // indirect
	github.com/shopspring/decimal v1.4.0 // indirect
	github.com/spf13/cast v1.7.0 // indirect
	github.com/traefik/paerser v0.2.2 // indirect
	github.com/traefik/traefik/v3 v3.6.12 // indirect
	golang.org/x/crypto v0.48.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
	// The Gateway API release Traefik is built against; its CRDs are installed on the local control plane.
	sigs.k8s.io/gateway-api v1.4.0 // indirect
)
