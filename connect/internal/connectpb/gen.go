// Package connectpb holds the Connect protocol's messages, generated from
// connect.proto with protoc (libprotoc 3.21) and protoc-gen-go v1.36.11:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.11
//	go generate ./internal/connectpb
package connectpb

//go:generate protoc -I ../../.. --go_out=../../.. --go_opt=paths=source_relative connect/internal/connectpb/connect.proto
