package inngest

import (
	"errors"
	"fmt"
	"net"
)

// devServerHint explains, in dev mode, a request to base that could not
// even connect: the dev server is most likely not running. Other errors,
// and every error in cloud mode, are returned as they are.
func (c *Client) devServerHint(err error, base string) error {
	var op *net.OpError
	if !c.cfg.dev || !errors.As(err, &op) || op.Op != "dial" {
		return err
	}
	return fmt.Errorf("the Inngest dev server is not reachable at %s: start it with `npx inngest-cli@latest dev`, "+
		"or set INNGEST_DEV (or INNGEST_BASE_URL) to the URL it runs at: %w", base, err)
}
