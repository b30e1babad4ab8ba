package replaytest_test

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// sha1Hex is the wire ID of the first use of step id.
func sha1Hex(id string) string {
	sum := sha1.Sum([]byte(id))
	return hex.EncodeToString(sum[:])
}

// bearerHash is the hex SHA-256 of the signing key's hex-decoded key.
func bearerHash(t *testing.T, key string) string {
	t.Helper()
	raw, err := hex.DecodeString(key[strings.LastIndex(key, "-")+1:])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
