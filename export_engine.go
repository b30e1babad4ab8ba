package inngest

import "github.com/go-inngest/inngest/internal/testhook"

// The in-process engine of package inngesttest drives a Client through
// its real handler. It reads the sync payload, the handler and the
// signing key through this hook, so that none of them needs an exported
// accessor.
func init() {
	testhook.Describe = func(v any) (testhook.App, bool) {
		c, ok := v.(*Client)
		if !ok || c == nil {
			return testhook.App{}, false
		}
		return testhook.App{
			ID:         c.cfg.appID,
			Dev:        c.cfg.dev,
			SigningKey: c.cfg.signingKey,
			Env:        c.cfg.env,
			Handler:    c.Serve(),
			HTTPClient: c.cfg.httpClient,
			Sync: func(appURL string) ([]byte, error) {
				return marshalNoEscape(c.registerBody(appURL))
			},
		}, true
	}
}
