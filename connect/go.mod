module github.com/go-inngest/inngest/connect

go 1.24

replace github.com/go-inngest/inngest => ../

require (
	github.com/coder/websocket v1.8.14
	github.com/go-inngest/inngest v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
	google.golang.org/protobuf v1.36.11
)

require (
	github.com/gowebpki/jcs v1.0.2 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
)
