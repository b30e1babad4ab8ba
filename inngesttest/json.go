package inngesttest

import (
	"encoding/json"
	"fmt"

	"github.com/go-inngest/inngest/internal/wire"
)

// marshal encodes v as JSON without HTML escaping.
func marshal(v any) (json.RawMessage, error) { return wire.Marshal(v) }

func mustMarshal(v any) json.RawMessage {
	b, err := marshal(v)
	if err != nil {
		panic(fmt.Sprintf("inngesttest: encoding %T: %v", v, err))
	}
	return b
}
