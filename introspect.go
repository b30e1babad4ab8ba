package inngest

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/go-inngest/inngest/internal/wire"
)

// trust answers the trust probe: 200 {} to a correctly signed request,
// with the response signed by the same key. Its body gets the bounded
// canonical check, as other SDKs verify every body's canonical form.
func (h *handler) trust(w http.ResponseWriter, r *http.Request) {
	_, fb, ok := h.readSigned(w, r, true, func(err error) { writeError(w, http.StatusUnauthorized, err.Error()) })
	if !ok {
		return
	}
	resp := []byte("{}")
	if !h.c.cfg.dev {
		key := h.c.cfg.hmacKey
		if fb {
			key = h.c.cfg.hmacKeyFB
		}
		ts := h.now().Unix()
		w.Header().Set(wire.HeaderSignature, "t="+itoa(ts)+"&s="+mac(key, resp, ts))
	}
	writeRaw(w, http.StatusOK, resp)
}

// schemaVersion is the introspection schema.
const schemaVersion = "2024-05-24"

type introspection struct {
	AuthenticationSucceeded *bool  `json:"authentication_succeeded"`
	FunctionCount           int    `json:"function_count"`
	HasEventKey             bool   `json:"has_event_key"`
	HasSigningKey           bool   `json:"has_signing_key"`
	HasSigningKeyFallback   bool   `json:"has_signing_key_fallback"`
	Mode                    string `json:"mode"`
	SchemaVersion           string `json:"schema_version"`
	*authIntrospection
}

type authIntrospection struct {
	APIOrigin              string            `json:"api_origin"`
	AppID                  string            `json:"app_id"`
	Capabilities           map[string]string `json:"capabilities"`
	Env                    *string           `json:"env"`
	EventAPIOrigin         string            `json:"event_api_origin"`
	EventKeyHash           *string           `json:"event_key_hash"`
	Framework              string            `json:"framework"`
	SDKLanguage            string            `json:"sdk_language"`
	SDKVersion             string            `json:"sdk_version"`
	ServeOrigin            *string           `json:"serve_origin"`
	ServePath              *string           `json:"serve_path"`
	SigningKeyFallbackHash *string           `json:"signing_key_fallback_hash"`
	SigningKeyHash         *string           `json:"signing_key_hash"`
}

func (h *handler) introspect(w http.ResponseWriter, r *http.Request) {
	cfg := &h.c.cfg
	out := introspection{
		FunctionCount:         len(h.c.functions()),
		HasEventKey:           cfg.hasEventKey(),
		HasSigningKey:         cfg.signingKey != "",
		HasSigningKeyFallback: cfg.signingKeyFallback != "",
		Mode:                  h.c.Mode().String(),
		SchemaVersion:         schemaVersion,
	}
	if sig := r.Header.Get(wire.HeaderSignature); sig != "" && !cfg.dev {
		_, err := verifySignature(sig, nil, h.now(), cfg.hmacKey, cfg.hmacKeyFB, false)
		ok := err == nil
		out.AuthenticationSucceeded = &ok
		if ok {
			out.authIntrospection = cfg.authDetails()
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// authDetails is what introspection adds for a correctly signed request.
// It holds hashes of the keys, never the keys.
func (c *config) authDetails() *authIntrospection {
	return &authIntrospection{
		APIOrigin:              c.apiBase,
		AppID:                  c.appID,
		Capabilities:           c.capabilities(),
		Env:                    optional(c.env),
		EventAPIOrigin:         c.eventBase,
		EventKeyHash:           optional(c.eventKeyHash()),
		Framework:              framework,
		SDKLanguage:            "go",
		SDKVersion:             Version,
		ServeOrigin:            optional(c.serveOrigin),
		ServePath:              optional(c.servePath),
		SigningKeyFallbackHash: optional(c.bearerFB),
		SigningKeyHash:         optional(c.bearer),
	}
}

// framework is the X-Inngest-Framework and sync "framework" value.
const framework = "nethttp"

func (c *config) hasEventKey() bool { return c.eventKey != "" && c.eventKey != wire.DevEventKey }

func (c *config) eventKeyHash() string {
	if !c.hasEventKey() {
		return ""
	}
	sum := sha256.Sum256([]byte(c.eventKey))
	return hex.EncodeToString(sum[:])
}

func (c *config) capabilities() map[string]string {
	caps := map[string]string{"trust_probe": "v1"}
	if c.allowInBandSync {
		caps["in_band_sync"] = "v1"
	}
	return caps
}
