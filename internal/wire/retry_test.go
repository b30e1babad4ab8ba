package wire_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/go-inngest/inngest/internal/wire"
)

func TestRetryAfterRoundsUp(t *testing.T) {
	base := time.Date(2026, 11, 25, 13, 26, 48, 0, time.UTC)
	paris := time.FixedZone("CET", 3600)
	for _, c := range []struct {
		at   time.Time
		want string
	}{
		{base, "2026-11-25T13:26:48Z"},
		{base.Add(time.Nanosecond), "2026-11-25T13:26:49Z"},
		{base.Add(343583913 * time.Nanosecond), "2026-11-25T13:26:49Z"},
		{base.Add(time.Second - time.Nanosecond), "2026-11-25T13:26:49Z"},
		{base.Add(500 * time.Millisecond).In(paris), "2026-11-25T13:26:49Z"},
	} {
		got := wire.RetryAfter(c.at)
		assert.Equal(t, c.want, got, "RetryAfter(%s)", c.at.Format(time.RFC3339Nano))
		parsed, err := time.Parse(time.RFC3339, got)
		if assert.NoError(t, err) {
			assert.False(t, parsed.Before(c.at), "%s is before %s", got, c.at)
		}
	}
}
