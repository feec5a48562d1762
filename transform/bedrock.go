package transform

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/tidwall/gjson"
)

// BedrockCredentialPrefix starts the credential strings that name one of BedrockOptions.CredentialSets ("sigv4:0",
// "sigv4:1", …): each set is a target of its own, as several API keys are. Any other non-empty credential is
// a Bedrock API key, sent as Authorization: Bearer; an empty one signs with BedrockOptions.Default.
const BedrockCredentialPrefix = "sigv4:"

// bedrockSigningName is the service name SigV4 signatures of bedrock-runtime requests carry.
const bedrockSigningName = "bedrock"

// BedrockOptions configures the Bedrock dialect.
type BedrockOptions struct {
	// Region is the AWS region requests are signed for (and whose endpoint is the default base URL).
	Region string
	// CredentialSets are the static AWS credentials of the provider, each selected by the credential string
	// BedrockCredentialPrefix + its index.
	CredentialSets []aws.CredentialsProvider
	// Default signs requests that carry no credential (the default AWS chain); nil sends them unsigned.
	Default aws.CredentialsProvider
	// Now returns the signing time; nil means time.Now.
	Now func() time.Time
	// Betas are the only Anthropic beta features Messages API clients may ask Claude models for (the rest
	// are dropped, as Bedrock refuses a request naming one it does not know); empty means
	// BedrockDefaultBetas.
	Betas []string
}

// Bedrock is the dialect of Amazon Bedrock's Converse API (POST /model/{modelId}/converse and
// /converse-stream), translated from and to OpenAI's Chat Completions, for every model family Bedrock serves
// through Converse. Requests are signed with SigV4 (AWS's own signer) or carry a Bedrock API key; streamed
// answers are AWS event streams (application/vnd.amazon.eventstream), read one message at a time with AWS's
// own decoder.
//
// Request translation: system and developer messages become system blocks; user, assistant and tool
// messages become Converse messages (consecutive tool results share one user message, as Converse wants
// them); images and PDFs must be base64 data URLs (Converse takes no URLs); max_tokens, temperature, top_p
// and stop become inferenceConfig; tools become toolConfig (tool_choice "none" sends no tools: Converse has
// no such choice). Anthropic's cache_control on a content part, a system part or a tool (the convention of
// OpenRouter and LiteLLM clients) becomes a cachePoint block right after it. reasoning_effort turns on
// Anthropic extended thinking for Claude models (additionalModelRequestFields.thinking, budgets as the
// Anthropic dialect's); a client's own additionalModelRequestFields object is passed through and wins.
// response_format json_object and json_schema become an instruction in the system prompt (the schema
// quoted). n > 1 is refused.
type Bedrock struct {
	opts   BedrockOptions
	signer *v4.Signer
}

var _ FramedDialect = (*Bedrock)(nil)

// NewBedrock returns the Bedrock dialect.
func NewBedrock(opts BedrockOptions) *Bedrock {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Bedrock{opts: opts, signer: v4.NewSigner()}
}

// BedrockBaseURL returns the bedrock-runtime endpoint of region.
func BedrockBaseURL(region string) string {
	return "https://bedrock-runtime." + region + ".amazonaws.com"
}

// Authorize signs req with SigV4 (credential "sigv4:<n>" or the default chain) or sets the Bedrock API key
// as Authorization: Bearer.
func (b *Bedrock) Authorize(req *http.Request, credential string) error {
	var provider aws.CredentialsProvider
	switch {
	case strings.HasPrefix(credential, BedrockCredentialPrefix):
		i, err := strconv.Atoi(credential[len(BedrockCredentialPrefix):])
		if err != nil || i < 0 || i >= len(b.opts.CredentialSets) {
			return errors.New("bedrock: unknown credential set")
		}
		provider = b.opts.CredentialSets[i]
	case credential != "":
		req.Header.Set("Authorization", "Bearer "+credential)
		return nil
	default:
		provider = b.opts.Default
	}
	if provider == nil {
		return errors.New("bedrock: no AWS credentials: set access_key_id and secret_access_key, an api_key (Bedrock API key), or the AWS environment variables")
	}
	creds, err := provider.Retrieve(req.Context())
	if err != nil {
		return fmt.Errorf("bedrock: retrieving AWS credentials: %v", err)
	}
	return SignAWS(req.Context(), b.signer, req, creds, bedrockSigningName, b.opts.Region, b.opts.Now())
}

// SignAWS signs req (whose body, if any, is replayable through GetBody) with SigV4 for service and region.
func SignAWS(ctx context.Context, s *v4.Signer, req *http.Request, creds aws.Credentials, service, region string, now time.Time) error {
	h := sha256.New()
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return err
		}
		_, err = io.Copy(h, body)
		body.Close()
		if err != nil {
			return err
		}
	}
	return s.SignHTTP(ctx, creds, req, hex.EncodeToString(h.Sum(nil)), service, region, now)
}

// bedrockModelPath escapes a model id, inference profile id or ARN as one path segment the way AWS's SDKs do
// (every byte but the unreserved ones percent-encoded, so an ARN's ':' and '/' stay inside the segment).
func bedrockModelPath(model string) (string, error) {
	if model == "" || model == "." || model == ".." {
		return "", InvalidRequest("model", "the Bedrock model id must not be empty, '.' or '..'")
	}
	var b strings.Builder
	for i := 0; i < len(model); i++ {
		c := model[i]
		if c < 0x20 || c == 0x7f {
			return "", InvalidRequest("model", "the Bedrock model id must not hold control characters")
		}
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteString(fmt.Sprintf("%%%02X", c))
	}
	return b.String(), nil
}

// TranslateError maps a Bedrock error ({"message":…} with the exception named by x-amzn-ErrorType, or a
// __type member) to an OpenAI error: ThrottlingException 429 (retried), ModelNotReadyException and
// ServiceUnavailableException 503, ValidationException 400, AccessDeniedException 403, each with AWS's
// message.
func (b *Bedrock) TranslateError(status int, h http.Header, body []byte) *Error {
	var typ, msg string
	if CheckJSON(body) == nil {
		root := gjson.Parse(stringView(body))
		msg = root.Get("message").String()
		if msg == "" {
			msg = root.Get("Message").String()
		}
		typ = root.Get("__type").String()
	}
	if h != nil && h.Get("X-Amzn-Errortype") != "" {
		typ = h.Get("X-Amzn-Errortype")
	}
	if msg == "" {
		msg = bodySnippet(body)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	e := bedrockError(status, typ, msg)
	if h != nil && (e.Status == http.StatusTooManyRequests || e.Status >= 500) {
		e.RetryAfter = parseRetryAfter(h, time.Now())
	}
	return e
}

// bedrockError builds the OpenAI error for an AWS exception type (as x-amzn-ErrorType gives it, maybe with
// ":" and a URL after it, or in lower camel case inside a stream) and message.
func bedrockError(status int, typ, msg string) *Error {
	if i := strings.IndexByte(typ, ':'); i >= 0 {
		typ = typ[:i]
	}
	if j := strings.LastIndexByte(typ, '#'); j >= 0 {
		typ = typ[j+1:]
	}
	if typ != "" {
		typ = strings.ToUpper(typ[:1]) + typ[1:]
	}
	code := ""
	switch typ {
	case "ThrottlingException", "TooManyRequestsException":
		status, code = http.StatusTooManyRequests, "rate_limit_exceeded"
	case "ModelNotReadyException", "ServiceUnavailableException":
		status, code = http.StatusServiceUnavailable, "model_not_ready"
		if typ == "ServiceUnavailableException" {
			code = "service_unavailable"
		}
	case "ValidationException":
		status = http.StatusBadRequest
	case "AccessDeniedException", "UnrecognizedClientException":
		status = http.StatusForbidden
		msg += " (check the AWS credentials of this Bedrock provider and that the model is enabled for them)"
	case "ResourceNotFoundException":
		status, code = http.StatusNotFound, "model_not_found"
	case "ModelTimeoutException":
		status = http.StatusGatewayTimeout
	case "ModelErrorException", "InternalServerException", "ModelStreamErrorException":
		if status < 500 {
			status = http.StatusBadGateway
		}
	case "ServiceQuotaExceededException":
		status, code = http.StatusTooManyRequests, "quota_exceeded"
	}
	if status == 0 || status == http.StatusOK {
		status = http.StatusBadGateway
	}
	if typ != "" {
		msg = typ + ": " + msg
	}
	return NewError(status, TypeForStatus(status), code, "bedrock: "+msg)
}

// bedrockFinishReason maps a Converse stopReason to an OpenAI finish_reason.
func bedrockFinishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return finishLength
	case "tool_use":
		return finishToolCalls
	case "guardrail_intervened", "content_filtered":
		return finishContentFilter
	}
	return finishStop
}

// NewEventReader reads the AWS event stream of ConverseStream.
func (b *Bedrock) NewEventReader(body io.Reader, maxEvent int) EventReader {
	return NewEventStreamReader(body, maxEvent)
}

// EventStreamReader reads an AWS event stream (application/vnd.amazon.eventstream) one message at a time with
// AWS's decoder (which checks both CRCs). Each message becomes an Event whose Data is its payload and whose
// Name is its :event-type header; an exception or error message gets the name "exception:" followed by its
// :exception-type (or :error-code). A message whose declared length exceeds the limit is refused before it
// is read, so memory stays bounded by the largest message.
type EventStreamReader struct {
	r   *bufio.Reader
	dec *eventstream.Decoder
	max int
	buf []byte
	nm  []byte
}

// NewEventStreamReader returns a reader over r; maxEvent bounds one message (zero means defaultMaxEventSize).
func NewEventStreamReader(r io.Reader, maxEvent int) *EventStreamReader {
	if maxEvent <= 0 {
		maxEvent = defaultMaxEventSize
	}
	return &EventStreamReader{r: bufio.NewReaderSize(r, 4<<10), dec: eventstream.NewDecoder(), max: maxEvent}
}

// eventStreamOverhead is a message's size without headers and payload: the prelude (total length, headers
// length, CRC) and the message CRC.
const eventStreamOverhead = 16

// Next returns the next message; io.EOF at the end of the stream.
func (e *EventStreamReader) Next() (Event, error) {
	prelude, err := e.r.Peek(8)
	if err != nil {
		if err == io.EOF && len(prelude) == 0 {
			return Event{}, io.EOF
		}
		if err == io.EOF {
			return Event{}, io.ErrUnexpectedEOF
		}
		return Event{}, err
	}
	total, headers := binary.BigEndian.Uint32(prelude), binary.BigEndian.Uint32(prelude[4:])
	if int64(total) > int64(e.max)+eventStreamOverhead {
		return Event{}, ErrEventTooLarge
	}
	if total < eventStreamOverhead || headers > total-eventStreamOverhead {
		return Event{}, errors.New("malformed AWS event stream message: lengths out of range")
	}
	msg, err := e.dec.Decode(e.r, e.buf[:0])
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Event{}, fmt.Errorf("reading the AWS event stream: %w", err)
	}
	if cap(msg.Payload) > cap(e.buf) {
		e.buf = msg.Payload[:0]
	}
	e.nm = e.nm[:0]
	switch header(msg.Headers, ":message-type") {
	case "exception":
		e.nm = append(append(e.nm, "exception:"...), header(msg.Headers, ":exception-type")...)
	case "error":
		e.nm = append(append(e.nm, "exception:"...), header(msg.Headers, ":error-code")...)
		if m := header(msg.Headers, ":error-message"); m != "" && len(msg.Payload) == 0 {
			msg.Payload = AppendJSONString(append(msg.Payload, `{"message":`...), m)
			msg.Payload = append(msg.Payload, '}')
		}
	default:
		e.nm = append(e.nm, header(msg.Headers, ":event-type")...)
	}
	return Event{Name: e.nm, Data: msg.Payload}, nil
}

// header returns the string value of an event stream header, "" when absent.
func header(h eventstream.Headers, name string) string {
	v := h.Get(name)
	if v == nil {
		return ""
	}
	if s, ok := v.(eventstream.StringValue); ok {
		return string(s)
	}
	return v.String()
}

// Buffered implements EventReader: zero unless a whole message is buffered.
func (e *EventStreamReader) Buffered() int {
	n := e.r.Buffered()
	if n < 4 {
		return 0
	}
	p, _ := e.r.Peek(4) // already buffered: never reads
	if int(binary.BigEndian.Uint32(p)) > n {
		return 0
	}
	return n
}

var _ EventReader = (*EventStreamReader)(nil)
