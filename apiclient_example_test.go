package inngest_test

import (
	"fmt"

	"github.com/go-inngest/inngest"
)

// APIClient sends requests to the Inngest API, signed with the client's
// key, and nowhere else.
func ExampleClient_APIClient() {
	client, err := inngest.NewClient(inngest.ClientOpts{AppID: "shop", SigningKey: "signkey-prod-0123456789abcdef", APIBaseURL: "http://inngest.internal:8288"})
	if err != nil {
		panic(err)
	}
	_, err = client.APIClient().Get("https://example.com/")
	fmt.Println(err)
	// Output:
	// Get "https://example.com/": inngest: the API client sends requests only under http://inngest.internal:8288, not to https://example.com/
}
