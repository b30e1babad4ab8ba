// Package testhook lets package inngesttest read what it needs from an
// inngest.Client (its sync payload, its handler and its signing key)
// without adding any of it to the public API. Package inngest sets
// Describe when it is initialised.
package testhook

import "net/http"

// App is what the in-process engine learns about a Client.
type App struct {
	// ID is the app ID.
	ID string
	// Dev is true in dev mode, where calls are not signed.
	Dev bool
	// SigningKey is the key calls are signed with in cloud mode.
	SigningKey string
	// Env is the Inngest environment, sent as ctx.env.
	Env string
	// Handler is the client's Serve() handler.
	Handler http.Handler
	// HTTPClient is the client that makes the Client's outbound requests.
	HTTPClient *http.Client
	// Sync returns the body the Client posts to /fn/register when it is
	// synced at appURL.
	Sync func(appURL string) ([]byte, error)
}

// Describe returns the App of client, which must be an *inngest.Client;
// ok is false otherwise.
var Describe func(client any) (app App, ok bool)
