package gateway

import (
	"net/http"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// surface is a client API other than Chat Completions (OpenAI's Responses API, Anthropic's Messages API)
// that every provider serves. Its endpoint is one entry of the endpoint table with surface set; the engine
// runs it like any other endpoint (validation, routes, fallbacks, retries, cooldowns, limits, budgets, usage,
// cost, metrics, placeholders, access log), and the surface only says how its bodies and events look.
//
// A dialect serves a surface in one of two ways, decided once per provider when the gateway is built:
//
//   - natively, when native returns its implementation (and the dialect's transform.EndpointFilter, if any,
//     accepts the endpoint's name, which is how a provider option such as `responses chat` turns it off): the
//     client's bytes go upstream with model rewritten, the answer comes back with model rewritten, and a
//     stream's events are relayed one by one to the client through a transform.EventSink; usage comes from
//     the surface's own usage fields;
//   - otherwise through Chat Completions: toChat turns the client's request into an OpenAI chat request body,
//     which the dialect's BuildRequest translates as it does any chat request; the dialect's chat.completion
//     answer goes through fromChat; a stream's chat.completion.chunk payloads go, one at a time, to the
//     transform.SurfaceStream of newStream, which writes the surface's named events.
//
// For both, errors the client gets are written by appendError and, inside a stream that began, by the
// SurfaceStream's Fail. Plugging in a surface is: a transform-side translator (request, answer, stream), an
// interface a dialect implements to serve it natively (see transform/endpoints.go), a surface value, and an
// endpoint entry (endpoint.go) with its validation (field), local token counts (prompt, completion) and
// usage: usageSurface.
type surface struct {
	// native returns the dialect's own implementation of the surface, or nil when it has none.
	native func(d transform.Dialect) *dialectOps
	// nativeModels, when set, returns which of the dialect's models the native implementation serves (nil:
	// all of them); the others are served as by a dialect without one.
	nativeModels func(d transform.Dialect) func(model string) bool
	// toChat turns the client's request (req.Body, validated and prepared) into an OpenAI chat completion
	// request body for the dialect. An error (a *transform.Error) refuses the request.
	toChat func(req *transform.Request) ([]byte, error)
	// fromChat turns the dialect's chat.completion answer into the surface's answer, with usage u when it
	// is known (else the engine counts it and calls setUsage).
	fromChat func(req *transform.Request, chat []byte, u usage.Usage) ([]byte, error)
	// newStream returns the writer of one streamed answer. native says the dialect relays the surface's own
	// events: only Fail and Result are then used.
	newStream func(req *transform.Request, native bool) transform.SurfaceStream
	// setUsage writes usage the gateway counted into an answer whose upstream reported none.
	setUsage func(body []byte, u usage.Usage) []byte
	// finalEvent names the event that ends a natively relayed stream with its usage, and costField where in
	// it usage.cost goes when the gateway reports costs: the event is held until the stream's usage is
	// settled, then written with the cost. Empty: no cost in native streams.
	finalEvent, costField string
	// appendError appends an error response body in the surface's shape; nil means OpenAI's.
	appendError func(dst []byte, e *transform.Error) []byte
	// prepare, when set, runs once per request after validation and before limits are charged. It may
	// replace x.req.body (e.g. with earlier turns of a stored conversation) and set x.pin to restrict the
	// request to one provider's targets.
	prepare func(g *Gateway, r *http.Request, x *exchange) *transform.Error
	// done, when set, is told of each complete answer served through chat: the surface's answer object
	// (for a stream, SurfaceStream.Result).
	done func(g *Gateway, r *http.Request, x *exchange, answer []byte)
	// local, when set, answers the surface without an upstream for dialects that do not serve it natively
	// (count_tokens): the answer body, from the request and its local input count.
	local func(req *transform.Request) ([]byte, error)
	// inputTokens says the surface needs the gateway's local count of the input (transform.Request.InputTokens)
	// when served through chat or locally: message_start reports it before the upstream's usage arrives.
	inputTokens bool
}

// ops returns the dialect's implementation of the surface: its own when it has one and nativeAllowed,
// else the one through its chat completions.
func (s *surface) ops(d transform.Dialect, nativeAllowed bool) *dialectOps {
	if nativeAllowed && s.native != nil {
		if ops := s.native(d); ops != nil {
			ops.native = true
			if s.nativeModels == nil {
				return ops
			}
			if serves := s.nativeModels(d); serves != nil {
				other := s.nonNative(d)
				return &dialectOps{forModel: func(model string) *dialectOps {
					if serves(model) {
						return ops
					}
					return other
				}}
			}
			return ops
		}
	}
	return s.nonNative(d)
}

// nonNative returns the surface's implementation for a dialect that does not serve it natively: local, or
// through the dialect's chat completions.
func (s *surface) nonNative(d transform.Dialect) *dialectOps {
	if s.local != nil {
		return &dialectOps{local: s.local}
	}
	return &dialectOps{
		build: func(req *transform.Request) (*transform.Outgoing, error) {
			body, err := s.toChat(req)
			if err != nil {
				return nil, err
			}
			chat := *req
			chat.Body = body
			return d.BuildRequest(&chat)
		},
		translate: func(req *transform.Request, b []byte) ([]byte, usage.Usage, error) {
			chat, u, err := d.TranslateResponse(req, b)
			if err != nil {
				return nil, u, err
			}
			out, err := s.fromChat(req, chat, u)
			return out, u, err
		},
		stream: d.NewStream,
	}
}

// appendErrorBody appends e as the error body of endpoint ep.
func appendErrorBody(ep *endpoint, dst []byte, e *transform.Error) []byte {
	if ep != nil && ep.surface != nil && ep.surface.appendError != nil {
		return ep.surface.appendError(dst, e)
	}
	return e.AppendJSON(dst)
}

// failAs writes e as the response, in the error shape of endpoint ep (nil: OpenAI's).
func (g *Gateway) failAs(w http.ResponseWriter, res *Result, ep *endpoint, e *transform.Error) {
	res.Status = e.Status
	res.Err = e
	e.WriteHeaders(w.Header())
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(appendErrorBody(ep, make([]byte, 0, 256), e), '\n'))
}
