package inngest_test

import (
	"encoding/json"
	"testing"

	"github.com/go-inngest/inngest"
	"github.com/go-inngest/inngest/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The server refuses a sync with an invalid expression with a bare "At
// least one function is invalid" (its publicerr body, the detail left
// out). The sync's error then lists the expressions to check, function by
// function.
func TestSyncInvalidFunctionListsExpressions(t *testing.T) {
	api := testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) {
		return 400, `{"error":"At least one function is invalid","data":null,"status":400}`
	}))
	c := syncCloud(t, api, inngest.ClientOpts{})
	res := syncPut(t, c, "http://shop.example.com/api/inngest", protoKey, nil)
	require.Equal(t, 500, res.Code)
	var reply struct {
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &reply))
	assert.Equal(t, "inngest: sync: "+api.URL+" answered 400: At least one function is invalid"+
		" (the server does not say which; check these CEL expressions, or register the app with an inngesttest.Engine, which names the invalid ones: "+
		`shop-charge: trigger 0 Expression "event.data.amount > 0 && event.data.currency != 'XXX'", `+
		`Cancel[0].If "event.data.charge_id == async.data.charge_id", `+
		`Cancel[1].If "async.data.account == event.data.account && event.data.amount > 100", `+
		`Concurrency[1].Key "event.data.user_id", Throttle.Key "event.data.user_id", Debounce.Key "event.data.user_id", `+
		`Priority.Run "event.data.plan == 'pro' ? 120 : 0", Singleton.Key "event.data.user_id"; `+
		`shop-charge-failure: trigger 0 Expression "event.data.function_id == 'shop-charge'"; `+
		`shop-digest: RateLimit.Key "event.data.team"; `+
		`shop-bulk-import: Concurrency[0].Key "event.data.tenant", Idempotency "event.data.import_id", BatchEvents.Key "event.data.tenant", BatchEvents.If "event.data.size < 1000"; `+
		`shop-notify: trigger 1 Expression "event.data.role != 'guest'"; `+
		`shop-notify-cancel: trigger 0 Expression "event.data.function_id == 'shop-notify'")`,
		reply.Message)

	// Other refusals are left as the server wrote them.
	api = testkit.NewFakeAPI(t, testkit.Replying(func(testkit.APIRequest) (int, string) { return 400, `{"error":"Expected server kind dev, got cloud"}` }))
	c = syncCloud(t, api, inngest.ClientOpts{})
	res = syncPut(t, c, "http://shop.example.com/api/inngest", protoKey, nil)
	require.NoError(t, json.Unmarshal(res.Body.Bytes(), &reply))
	assert.Equal(t, "inngest: sync: "+api.URL+" answered 400: Expected server kind dev, got cloud", reply.Message)
}
