package inngest

import "log/slog"

// Logger returns the logger the client and its handler log with:
// ClientOpts.Logger, or slog.Default when none was given.
func (c *Client) Logger() *slog.Logger { return c.cfg.logger }
