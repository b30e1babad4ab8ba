// Command nethttp mounts an Inngest app in an existing net/http server,
// next to the app's own routes: GET /healthz, POST /orders (which sends
// an event with Client.Send) and /api/inngest (Client.Serve, which
// Inngest calls).
//
// With no Inngest server configured it sends two requests to the mux in
// process, lets the in-process engine run the function the order's
// event triggers, and prints what happened:
//
//	go run ./examples/nethttp
//
// With INNGEST_DEV=1 (or INNGEST_SIGNING_KEY and INNGEST_EVENT_KEY) it
// listens on ADDR (default 127.0.0.1:3000):
//
//	INNGEST_DEV=1 go run ./examples/nethttp
//	npx inngest-cli@latest dev -u http://127.0.0.1:3000/api/inngest
//	curl -X POST -d '{"order_id":"o-1","email":"ada@example.com"}' http://127.0.0.1:3000/orders
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/inngesttest"
	"github.com/go-inngest/inngest/step"
)

// Order is the body of POST /orders and the data of shop/order.placed.
type Order struct {
	OrderID string `json:"order_id"`
	Email   string `json:"email"`
}

// Mailer stands in for the app's email provider.
type Mailer struct {
	mu   sync.Mutex
	Sent []string
}

// Send records an email.
func (m *Mailer) Send(_ context.Context, to, subject string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Sent = append(m.Sent, to+": "+subject)
	return nil
}

// newApp creates the Inngest client and its function.
func newApp(opts inngest.ClientOpts, mailer *Mailer) (*inngest.Client, error) {
	client, err := inngest.NewClient(opts)
	if err != nil {
		return nil, err
	}
	_, err = inngest.CreateFunction(client, inngest.FunctionOpts{ID: "confirm-order"},
		inngest.EventTrigger("shop/order.placed", nil),
		func(ctx context.Context, in inngest.Input[Order]) (any, error) {
			return step.Run(ctx, "send-confirmation", func(ctx context.Context) (string, error) {
				subject := "Order " + in.Event.Data.OrderID + " confirmed"
				return subject, mailer.Send(ctx, in.Event.Data.Email, subject)
			})
		})
	if err != nil {
		return nil, err
	}
	return client, nil
}

// newMux returns the app's routes, Inngest's among them.
func newMux(client *inngest.Client) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		var o Order
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&o); err != nil || o.OrderID == "" || o.Email == "" {
			http.Error(w, `want {"order_id": "...", "email": "..."}`, http.StatusBadRequest)
			return
		}
		// The order is stored here; the confirmation email is left to
		// Inngest, which retries it until it is sent.
		ids, err := client.Send(r.Context(), inngest.Event[any]{Name: "shop/order.placed", Data: o})
		if err != nil {
			log.Printf("orders: sending shop/order.placed: %v", err)
			http.Error(w, "the order was stored but its confirmation could not be queued", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(map[string]any{"order_id": o.OrderID, "event_id": ids[0]})
	})
	// The same handler with and without a trailing slash: a sync request
	// for http://host/api/inngest/ reaches it too, and the handler
	// registers the URL each sync came in on.
	inngestHandler := client.Serve()
	mux.Handle("/api/inngest", inngestHandler)
	mux.Handle("/api/inngest/", inngestHandler)
	return mux
}

func main() {
	var err error
	if os.Getenv("INNGEST_DEV") != "" || os.Getenv("INNGEST_SIGNING_KEY") != "" {
		err = serve()
	} else {
		err = simulate(os.Stdout)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func serve() error {
	client, err := newApp(inngest.ClientOpts{AppID: "shop"}, &Mailer{})
	if err != nil {
		return err
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:3000"
	}
	srv := &http.Server{Addr: addr, Handler: newMux(client), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("Serving GET /healthz, POST /orders and /api/inngest on http://%s (%s mode)\n", addr, client.Mode())
	if client.Mode() == inngest.ModeDev {
		fmt.Printf("Sync with the dev server: npx inngest-cli@latest dev -u http://%s/api/inngest\n", addr)
	}
	return srv.ListenAndServe()
}

// simulate sends requests to the mux in process, with the engine
// standing in for Inngest, and prints the responses and the run.
func simulate(w io.Writer) error {
	eng := inngesttest.New(nil)
	mailer := &Mailer{}
	client, err := newApp(inngest.ClientOpts{AppID: "shop", Mode: inngest.ModeDev, HTTPClient: eng.HTTPClient()}, mailer)
	if err != nil {
		return err
	}
	eng.Register(client)
	mux := newMux(client)

	for _, req := range []*http.Request{
		httptest.NewRequest(http.MethodGet, "/healthz", nil),
		httptest.NewRequest(http.MethodPost, "/orders", strings.NewReader(`{"order_id":"o-1","email":"ada@example.com"}`)),
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Fprintf(w, "%s %s -> %d %s\n", req.Method, req.URL.Path, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	eng.Wait() // runs what the event triggered
	for _, r := range eng.Runs() {
		fmt.Fprintf(w, "%s: %s %s\n", r.FunctionID(), r.Status(), r.Output())
	}
	fmt.Fprintf(w, "emails sent: %s\n", strings.Join(mailer.Sent, "; "))
	return nil
}
