// Package integration holds end-to-end tests of the ai_gateway handler: a real Caddy started in-process by
// caddytest, loaded with Caddyfiles that mount the gateway on /v1/* and /api/v1/*, in front of loopback
// upstreams (httptest servers replaying recorded provider responses, and the ai_simulator) and driven by raw
// HTTP and by the official openai-go SDK.
//
// Run with `go test -race -count=1 ./integration/`. Under -short every test skips itself. The package uses
// admin port 2999 and a fresh HTTP port per loaded site; HOME, the XDG directories and the sites' log files live
// in a temporary directory for the run.
package integration
