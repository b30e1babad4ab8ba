module github.com/go-inngest/inngest/routertest

go 1.24

replace github.com/go-inngest/inngest => ../

require (
	github.com/go-chi/chi/v5 v5.3.1
	github.com/go-inngest/inngest v0.0.0-00010101000000-000000000000
	github.com/gorilla/mux v1.8.1
	github.com/stretchr/testify v1.12.1
)

require (
	github.com/gowebpki/jcs v1.0.2 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
