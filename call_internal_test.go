package inngest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadAll(t *testing.T) {
	text := strings.Repeat("0123456789", 1000)
	for _, n := range []int64{-1, 0, 1, 10, int64(len(text)) - 1, int64(len(text)), int64(len(text)) + 100} {
		// Whatever the announced length, the whole body is read, in
		// one read or in many small ones.
		for _, r := range []io.Reader{strings.NewReader(text), iotest.OneByteReader(strings.NewReader(text)), iotest.HalfReader(strings.NewReader(text))} {
			b, err := readAll(r, n)
			require.NoError(t, err, "n=%d", n)
			assert.Equal(t, text, string(b), "n=%d", n)
		}
	}
	boom := errors.New("boom")
	_, err := readAll(io.MultiReader(bytes.NewReader([]byte("abc")), iotest.ErrReader(boom)), 10)
	assert.ErrorIs(t, err, boom)
}
