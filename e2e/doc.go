// Package e2e holds end-to-end tests that run the SDK against a real
// Inngest server: an `inngest dev` server, or an `inngest start` server
// with a signing key.
//
// The tests are skipped unless INNGEST_E2E_SERVER names a running server.
// See README.md in this directory for how to run them.
package e2e
