// Command caddy is a Caddy build with the standard modules, the ai_gateway handler and the ai_simulator
// handler. It is what `xcaddy build --with github.com/aibackend/caddy-ai-gateway` produces, plus the simulator
// for demos and benchmarks.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/aibackend/caddy-ai-gateway"
	_ "github.com/aibackend/caddy-ai-gateway/simulator"
)

func main() {
	caddycmd.Main()
}
