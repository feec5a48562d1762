package simulator

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// faultSettings lists the names the fault header accepts, for error messages.
const faultSettings = "status, fail_rate, fail_status, retry_after, latency, ttft, tokens_per_second, " +
	"completion_tokens, chunk_tokens, report_usage, cut_after, hang, agent"

// applyFaultHeader overrides k with the settings in an X-Simulator-Fault header value.
func applyFaultHeader(k *knobs, header string) error {
	for _, item := range strings.FieldsFunc(header, func(r rune) bool { return r == ',' || r == ';' }) {
		name, value, hasValue := strings.Cut(strings.TrimSpace(item), "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if name == "" {
			continue
		}
		if name == "hang" && !hasValue {
			k.hang = true
			continue
		}
		if name == "agent" && !hasValue {
			k.agent = true
			continue
		}
		if err := applyFaultSetting(k, name, value); err != nil {
			return fmt.Errorf("%s header: %w", FaultHeader, err)
		}
	}
	return nil
}

func applyFaultSetting(k *knobs, name, value string) error {
	var err error
	switch name {
	case "status", "fail_status":
		var status int
		if status, err = strconv.Atoi(value); err == nil && (status < 400 || status > 599) {
			return fmt.Errorf("%s must be an HTTP error status (400-599), got %q", name, value)
		}
		k.failStatus = status
		if name == "status" {
			k.failRate = 1
		}
	case "fail_rate":
		if k.failRate, err = strconv.ParseFloat(value, 64); err == nil && (k.failRate < 0 || k.failRate > 1) {
			return fmt.Errorf("fail_rate must be between 0 and 1, got %q", value)
		}
	case "retry_after":
		k.retryAfter, err = parseDuration(value)
	case "latency":
		k.latency, err = parseDuration(value)
	case "ttft":
		k.ttft, err = parseDuration(value)
	case "tokens_per_second":
		if k.tokensPerSecond, err = strconv.ParseFloat(value, 64); err == nil && k.tokensPerSecond < 0 {
			return fmt.Errorf("tokens_per_second must not be negative, got %q", value)
		}
	case "completion_tokens":
		k.completionTokens, err = parsePositive(value)
	case "chunk_tokens":
		k.chunkTokens, err = parsePositive(value)
	case "cut_after":
		k.cutAfter, err = parsePositive(value)
	case "report_usage":
		k.reportUsage, err = parseOnOff(value)
	case "hang":
		k.hang, err = parseOnOff(value)
	case "agent":
		k.agent, err = parseOnOff(value)
	default:
		return fmt.Errorf("unknown setting %q; use %s", name, faultSettings)
	}
	if err != nil {
		return fmt.Errorf("invalid %s %q: %v", name, value, err)
	}
	return nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := caddy.ParseDuration(s)
	if err == nil && d < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	return d, err
}

func parsePositive(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err == nil && n < 1 {
		return 0, fmt.Errorf("must be at least 1")
	}
	return n, err
}

func parseOnOff(s string) (bool, error) {
	switch s {
	case "on", "true", "1", "":
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("want on or off")
}
