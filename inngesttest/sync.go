package inngesttest

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/wire"
)

// The engine learns an app as the server does: it sends the app's
// handler a sync request (PUT), and the SDK posts its configuration to
// POST /fn/register, through its own HTTP client, which must be the
// engine's. The register request tells the engine the app's name, URL,
// functions and environment; with a signing key the engine also checks
// that the request is authenticated with that key, as Inngest Cloud
// does.

// SigningKey makes the engine play Inngest Cloud (or a self-hosted
// server) with this signing key, for apps in cloud mode: it signs the
// sync request and every call with the key, and accepts an app's sync,
// and its other requests to the API, only when they are authenticated
// with it (ClientOpts.SigningKey or SigningKeyFallback). Give the
// client the same key:
//
//	const key = "signkey-test-12345678"
//	eng := inngesttest.New(t, inngesttest.SigningKey(key))
//	client, err := inngest.NewClient(inngest.ClientOpts{
//		AppID:      "shop",
//		Mode:       inngest.ModeCloud,
//		SigningKey: key,
//		HTTPClient: eng.HTTPClient(),
//	})
//
// Without a signing key the engine plays the dev server: its requests
// are not signed and it asks for no authentication, and it can sync only
// apps in dev mode. A key that is not hex text, optionally after a
// signkey-<env>- prefix, fails New.
func SigningKey(key string) Option {
	return func(e *Engine) {
		e.signingKey, e.keyErr = key, nil
		if _, err := inngest.Sign(key, time.Now(), nil); err != nil {
			e.keyErr = err
			return
		}
		e.bearer = hashedKey(key)
	}
}

// hashedKey is the token an SDK authenticates with: the key's
// signkey-<env>- prefix, then the hex SHA-256 of the bytes the rest of
// the key spells in hex. The key has been checked to be such text.
func hashedKey(key string) string {
	prefix := ""
	if rest, ok := strings.CutPrefix(key, "signkey-"); ok {
		if i := strings.IndexByte(rest, '-'); i > 0 {
			prefix = key[:len("signkey-")+i+1]
		}
	}
	raw, _ := hex.DecodeString(key[len(prefix):])
	sum := sha256.Sum256(raw)
	return prefix + hex.EncodeToString(sum[:])
}

// serverKind is the X-Inngest-Server-Kind of the server the engine
// plays.
func (e *Engine) serverKind() string {
	if e.signingKey != "" {
		return "cloud"
	}
	return "dev"
}

// pendingSync is a sync Register started, which the app's register
// request completes. The engine's lock guards it.
type pendingSync struct {
	appID   string
	handler http.Handler
	// reached is set when the app's register request reached the engine.
	reached bool
	// err is why the engine refused the last register request.
	err error
}

// Register syncs the clients' apps with the engine as the server syncs
// an app: it sends a sync request to the client's handler (Client.Serve),
// and the SDK posts the app's configuration to the engine through the
// client's HTTP client, so the client must be created with
// ClientOpts.HTTPClient set to the engine's HTTPClient. The engine reads
// the app's functions (triggers, retries, cancellations, failure
// handlers) and environment from that request. Register after creating
// the functions; registering a client again syncs it again.
//
// Like the server, Register refuses an app with an expression the server
// would refuse (a trigger, cancel, flow-control, batch, priority,
// singleton or idempotency expression), and fails the test naming each
// function and field; see the package documentation.
//
// An app in cloud mode verifies every request's signature: give the
// engine its signing key with the SigningKey option, and the engine signs
// the sync request and every call with it. Without one, calls are not
// signed, as the dev server's are not, and an app in cloud mode is
// refused. Register fails the test, saying what to change, when the
// app's sync does not reach the engine or is not authenticated with the
// engine's key.
//
// The register request goes wherever the client's HTTP client sends it:
// a client created without the engine's HTTPClient sends it to its
// configured API (the dev server, or Inngest), which Register cannot
// prevent; it then fails.
func (e *Engine) Register(clients ...*inngest.Client) {
	e.t.Helper()
	for _, c := range clients {
		if err := e.register(c); err != nil {
			e.t.Fatalf("inngesttest: Register: %v", err)
		}
	}
}

func (e *Engine) register(c *inngest.Client) error {
	if c == nil {
		return errors.New("the client is nil: check the error inngest.NewClient returned")
	}
	id := c.AppID()
	if id == "" {
		return errors.New("the client was not created by inngest.NewClient")
	}
	if c.Mode() == inngest.ModeCloud && e.signingKey == "" {
		// The app would refuse every unsigned call, and most syncs.
		return fmt.Errorf("app %q is in cloud mode, where the handler verifies every request's signature, and the engine has no signing key: "+
			"give the engine the client's signing key, inngesttest.New(t, inngesttest.SigningKey(key)), or create the client in dev mode", id)
	}
	p := &pendingSync{appID: id, handler: c.Serve()}
	e.mu.Lock()
	e.deploys++
	deployID := "inngesttest-deploy-" + strconv.Itoa(e.deploys)
	e.syncs[deployID] = p
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.syncs, deployID)
		e.mu.Unlock()
	}()

	// The sync request, as the server sends it: the app's URL in the
	// body, the server's kind, and a signature with the server's key.
	body, err := json.Marshal(map[string]string{"url": appURL})
	if err != nil {
		return fmt.Errorf("app %q: building the sync request: %w", id, err)
	}
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	hdr.Set(wire.HeaderServerKind, e.serverKind())
	if e.signingKey != "" {
		sig, err := inngest.Sign(e.signingKey, time.Now(), body)
		if err != nil {
			return fmt.Errorf("app %q: signing the sync request: %w", id, err)
		}
		hdr.Set(wire.HeaderSignature, sig)
	}
	target := appURL + "?" + url.Values{"deployId": {deployID}}.Encode()
	res := serve(p.handler, http.MethodPut, target, hdr, body)

	e.mu.Lock()
	reached, refused := p.reached, p.err
	e.mu.Unlock()
	answer := syncAnswer(res)
	switch {
	case res.err != nil:
		return fmt.Errorf("app %q: syncing: %w", id, res.err)
	case refused != nil:
		return fmt.Errorf("app %q: %w", id, refused)
	case reached && res.status == http.StatusOK:
		return nil
	case reached:
		return fmt.Errorf("app %q: the handler answered the sync request with %s", id, answer)
	case res.status == http.StatusUnauthorized && e.signingKey != "":
		return fmt.Errorf("app %q refused the engine's signed sync request (%s): the client's signing key "+
			"(ClientOpts.SigningKey or SigningKeyFallback) is not the key given to inngesttest.SigningKey", id, answer)
	}
	msg := fmt.Sprintf("app %q: its sync did not reach the engine (the handler answered %s): "+
		"create the client with ClientOpts.HTTPClient: eng.HTTPClient(), through which the SDK registers the app "+
		"and sends its events", id, answer)
	if e.signingKey != "" {
		msg += ", and with ClientOpts.SigningKey set to the engine's signing key"
	}
	return errors.New(msg)
}

// syncAnswer describes the handler's answer to a sync request: its
// status and message.
func syncAnswer(res response) string {
	var reply struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	_ = json.Unmarshal(res.body, &reply)
	msg := reply.Message
	if msg == "" {
		msg = reply.Error
	}
	if msg == "" {
		msg = strings.TrimSpace(string(res.body))
	}
	if msg == "" {
		return strconv.Itoa(res.status)
	}
	return fmt.Sprintf("%d: %s", res.status, msg)
}

// authorize checks a request to the engine's API as Inngest Cloud does:
// with a signing key, it must carry Authorization: Bearer and the key,
// hashed (as the SDK sends it) or not. The dev server (no key) asks for
// nothing.
func (e *Engine) authorize(req *http.Request) error {
	if e.bearer == "" {
		return nil
	}
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return errors.New("the request carries no signing key (no Authorization: Bearer header): " +
			"the engine plays Inngest Cloud with the key given to inngesttest.SigningKey; create the client in cloud mode " +
			"with ClientOpts.SigningKey set to the same key")
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(e.bearer)) != 1 &&
		subtle.ConstantTimeCompare([]byte(tok), []byte(e.signingKey)) != 1 {
		return errors.New("the request is authenticated with another signing key than the engine's: " +
			"set ClientOpts.SigningKey (or SigningKeyFallback) to the key given to inngesttest.SigningKey")
	}
	return nil
}

// apiRegister takes an app's register request: the one a sync started by
// Register asked for (named by its deployId), or a later sync of an app
// already registered, such as a PUT a test sends to the handler.
func (e *Engine) apiRegister(w http.ResponseWriter, req *http.Request, body []byte) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.syncs[req.URL.Query().Get("deployId")]
	if p != nil {
		p.reached = true
	}
	refuse := func(status int, err error) {
		if p != nil {
			p.err = err
		}
		apiError(w, status, err.Error())
	}
	if err := e.authorize(req); err != nil {
		refuse(http.StatusUnauthorized, err)
		return
	}
	var sp syncPayload
	if err := json.Unmarshal(body, &sp); err != nil {
		refuse(http.StatusBadRequest, fmt.Errorf("the sync payload is not valid JSON: %w", err))
		return
	}
	a := &app{id: sp.AppName, env: req.Header.Get(wire.HeaderEnv), sync: body}
	old, known := e.apps[sp.AppName]
	switch {
	case p != nil:
		// parseSync refuses a payload naming another app.
		a.id, a.handler = p.appID, p.handler
		old, known = e.apps[p.appID]
	case known:
		a.handler = old.handler
	default:
		refuse(http.StatusBadRequest, fmt.Errorf("inngesttest: app %q is not registered; call Engine.Register with its client", sp.AppName))
		return
	}
	fns, err := parseSync(e.cel, a, body)
	if err == nil {
		err = e.install(a, fns)
	}
	if err != nil {
		refuse(http.StatusBadRequest, err)
		return
	}
	if p != nil {
		p.err = nil
	}
	modified := !known || !bytes.Equal(old.sync, body)
	apiJSON(w, map[string]any{"ok": true, "modified": modified})
}
