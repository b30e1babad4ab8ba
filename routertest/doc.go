// Package routertest checks, against real third-party routers (chi and
// gorilla/mux), that an Inngest handler mounted behind them registers at
// sync the URL each request really came in on, and that Inngest's calls
// at that URL reach the function.
//
// It is a module of its own so that the SDK's module does not depend on
// any router: run its tests with `cd routertest && go test ./...`.
// The standard library's routers (http.ServeMux patterns,
// http.StripPrefix) are tested in the SDK's own package.
package routertest
