package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// startSimulator starts a Caddy serving ai_simulator with the given knobs (Caddyfile lines). It closes
// connections idle for a second, before or between requests, so that a gateway's upstream connection pool
// (and the goroutines serving it) drains soon after a load.
func startSimulator(t *testing.T, name, knobs string) *caddyProc {
	t.Helper()
	return startCaddy(t, name, simulatorConfig(knobs))
}

func simulatorConfig(knobs string) caddyConfig {
	return caddyConfig{
		global: "\tservers {\n\t\ttimeouts {\n\t\t\tread_header 1s\n\t\t\tidle 1s\n\t\t}\n\t}",
		site:   "\tai_simulator {\n" + indent(knobs, 2) + "\t}",
	}
}

// gatewayConfig is a Caddy serving ai_gateway with body (Caddyfile lines) as the directive's block, and an
// access log (into the process's JSON log) whose entries carry the gateway's fields as ai_gateway.
func gatewayConfig(body string) caddyConfig {
	return caddyConfig{site: "\tlog\n\tai_gateway {\n" + indent(body, 2) + "\t}"}
}

// simProvider is an OpenAI-compatible provider block for the simulator sim. fault, when not empty, is sent
// as the X-Simulator-Fault header on every request to it.
func simProvider(name string, sim *caddyProc, fault string) string {
	b := fmt.Sprintf("provider %s {\n\tbase_url %s\n\tapi_key sk-e2e-%s\n", name, sim.url("/v1"), name)
	if fault != "" {
		b += fmt.Sprintf("\theader X-Simulator-Fault %q\n", fault)
	}
	return b + "}\n"
}

// indent prefixes every non-empty line of s with n tabs and ends it with a newline.
func indent(s string, n int) string {
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		if strings.TrimSpace(line) != "" {
			b.WriteString(strings.Repeat("\t", n))
			b.WriteString(line)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
