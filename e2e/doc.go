// Package e2e holds process-level end-to-end tests: they build the Caddy binary of ./cmd/caddy, start real
// Caddy processes (gateways and ai_simulator upstreams) on loopback ports with generated Caddyfiles, and a
// redis-server where a test needs one, then check what a client and an operator would see: responses,
// headers, log lines and goroutine counts.
//
// The tests run only when AIGW_E2E=1, as CI sets it:
//
//	AIGW_E2E=1 go test -race -count=1 ./e2e/
//
// redis-server must be in PATH for the Redis tests; they are skipped without it, except under CI=true, where
// they fail.
package e2e
