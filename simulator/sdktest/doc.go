// Package sdktest checks that the simulator is faithful enough for the official provider SDKs: the tests drive
// github.com/openai/openai-go/v3, github.com/anthropics/anthropic-sdk-go and google.golang.org/genai against a
// simulator on loopback, so a wire-format drift that would break real clients fails here. It holds no code; it
// keeps those SDKs out of the simulator package's own dependencies.
package sdktest
