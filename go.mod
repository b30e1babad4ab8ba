module github.com/go-inngest/inngest

go 1.24

require github.com/gowebpki/jcs v1.0.2 // indirect
