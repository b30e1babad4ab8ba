package main

import (
	"bytes"
	"strings"
	"testing"
)

// The example's run prints order 1's trace, continued from the request
// that sent its event, and the metrics of all four orders.
func TestExample(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, ""); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"POST /checkout\n  inngest.call shop-fulfil (step)\n    inngest.step reserve-stock (completed)\n      SELECT stock\n",
		"    inngest.step charge (completed)\n  inngest.call shop-fulfil (completed)\n",
		`inngest_failure_handlers_total{inngest_function_id="shop-fulfil-failure"`,
		`inngest_runs_failed_total{inngest_function_id="shop-fulfil",`,
		`inngest_steps_total{inngest_function_id="shop-fulfil",inngest_outcome="error",`,
		`inngest_retries_total{inngest_function_id="shop-fulfil",`,
		"inngest_step_duration_seconds_count{",
		`inngest_sends_total{inngest_result="ok",`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks %q:\n%s", want, got)
		}
	}
}
