package aigateway

import (
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/aibackend/caddy-ai-gateway/simulator"
)
