package inngesttest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// ids makes the identifiers the server puts into calls and events. They
// come from a seeded generator, so a test makes the same IDs each time it
// runs (apart from the time part of ULIDs, which follows the virtual
// clock).
type ids struct{ rng *rand.Rand }

func newIDs() *ids {
	var seed [32]byte
	copy(seed[:], "inngesttest: deterministic ids..")
	return &ids{rng: rand.New(rand.NewChaCha8(seed))}
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulid returns a ULID for time t: 48 bits of Unix milliseconds and 80
// random bits, in Crockford's base 32. Run and event IDs are ULIDs.
func (g *ids) ulid(t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	for i := 0; i < 8; i++ {
		b[6+i] = byte(hi >> (56 - 8*i))
	}
	b[14], b[15] = byte(lo>>8), byte(lo)
	// 128 bits as 26 characters of 5 bits, the first holding 3 bits.
	var out [26]byte
	var acc uint64
	var bits uint
	pos := 25
	for i := 15; i >= 0; i-- {
		acc |= uint64(b[i]) << bits
		bits += 8
		for bits >= 5 && pos >= 0 {
			out[pos] = crockford[acc&31]
			acc >>= 5
			bits -= 5
			pos--
		}
	}
	out[0] = crockford[acc&31]
	return string(out[:])
}

const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

// jobID returns a queue item's job ID: 13 lowercase base-36 characters.
func (g *ids) jobID() string {
	var b [13]byte
	for i := range b {
		b[i] = base36[g.rng.IntN(len(base36))]
	}
	return string(b[:])
}

// queueItemID is the ctx.qi_id of a queue item: base64 of
// "<job ID>::default".
func queueItemID(jobID string) string {
	return base64.StdEncoding.EncodeToString([]byte(jobID + "::default"))
}

// hex returns n random bytes as hex, for traceparents.
func (g *ids) hex(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.Uint32())
	}
	return hex.EncodeToString(b)
}

// functionUUID is the ctx.fn_id of a function: the server's internal
// UUID, here derived from the app and function IDs (a name-based UUID).
func functionUUID(appID, slug string) string {
	sum := sha1.Sum([]byte("inngesttest\x00" + appID + "\x00" + slug))
	b := sum[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
