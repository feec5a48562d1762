package cloudfake

//lint:file-ignore ST1005 the fakes answer with the services' own wording (capitalized sentences), as clients see it

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
)

// VertexCall is one Vertex AI request the fake accepted.
type VertexCall struct {
	// Publisher is google or anthropic; Model the model id; Method generateContent, streamGenerateContent,
	// rawPredict, streamRawPredict or predict.
	Publisher, Model, Method string
	// Token is the access token the request carried.
	Token  string
	Body   []byte
	Header http.Header
}

// Vertex is a fake of Google's OAuth2 token endpoint (POST /token, the JWT bearer grant of service
// accounts) and of Vertex AI's publisher model endpoints for one project and location. The token endpoint
// checks the assertion's RS256 signature with the service account's public key, its issuer, audience,
// scope and expiry, and issues tokens that live TokenLifetime; the API refuses a missing, unknown or
// expired token with 401 UNAUTHENTICATED, as Google does. Gemini models answer generateContent and
// streamGenerateContent (alt=sse); Claude models answer rawPredict and streamRawPredict (ClaudeMessage,
// ClaudeEvents), which refuse a body without anthropic_version vertex-2023-10-16 or with a model field, and
// count-tokens:rawPredict, which wants the model in the body.
type Vertex struct {
	Project, Location string
	// ClientEmail and Key are the service account's; NewServiceAccount makes them.
	ClientEmail string
	Key         *rsa.PublicKey
	// TokenLifetime is the expires_in of issued tokens. Default: one hour.
	TokenLifetime time.Duration
	// TokenURL is the audience assertions must name: the URL of this fake's /token.
	TokenURL string

	mu     sync.Mutex
	tokens map[string]time.Time
	issued int
	calls  []VertexCall
}

// NewServiceAccount returns a service account key file's JSON whose token_uri is tokenURL, and its key.
func NewServiceAccount(email, project, tokenURL string) ([]byte, *rsa.PrivateKey) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	b, _ := json.Marshal(map[string]string{"type": "service_account", "project_id": project, "private_key_id": "k1",
		"private_key": string(pemKey), "client_email": email, "client_id": "1", "token_uri": tokenURL})
	return b, key
}

// Issued returns how many tokens the token endpoint issued.
func (v *Vertex) Issued() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.issued
}

// Calls returns the API requests accepted so far.
func (v *Vertex) Calls() []VertexCall {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]VertexCall(nil), v.calls...)
}

// ServeHTTP serves /token and the API.
func (v *Vertex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/token" {
		v.token(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	v.mu.Lock()
	exp, ok := v.tokens[tok]
	v.mu.Unlock()
	if !ok || !time.Now().Before(exp) {
		googleError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	prefix := "/v1/projects/" + v.Project + "/locations/" + v.Location + "/publishers/"
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	publisher, rest, _ := strings.Cut(rest, "/models/")
	model, method, _ := strings.Cut(rest, ":")
	if !ok || model == "" || (publisher != "google" && publisher != "anthropic") {
		googleError(w, http.StatusNotFound, "NOT_FOUND", "no such resource: "+r.URL.Path)
		return
	}
	call := VertexCall{Publisher: publisher, Model: model, Method: method, Token: tok, Body: body, Header: r.Header.Clone()}
	switch {
	case publisher == "google" && method == "generateContent":
		v.record(call)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(geminiAnswer(body, true))
	case publisher == "google" && method == "streamGenerateContent" && r.URL.Query().Get("alt") == "sse":
		v.record(call)
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range geminiStream(body) {
			fmt.Fprintf(w, "data: %s\r\n\r\n", ev)
			w.(http.Flusher).Flush()
		}
	case publisher == "google" && method == "predict":
		insts := gjson.GetBytes(body, "instances")
		if !insts.IsArray() || len(insts.Array()) == 0 {
			googleError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "instances must be a non-empty list")
			return
		}
		v.record(call)
		var preds []string
		for i, in := range insts.Array() {
			preds = append(preds, fmt.Sprintf(`{"embeddings":{"values":[0.%d5,-0.25,0.5],"statistics":{"token_count":%d,"truncated":false}}}`,
				i+1, len(strings.Fields(in.Get("content").String()))))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"predictions":[%s],"metadata":{"billableCharacterCount":42}}`, strings.Join(preds, ","))
	case publisher == "anthropic" && model == "count-tokens" && method == "rawPredict":
		if !strings.HasPrefix(gjson.GetBytes(body, "model").Str, "claude") || !gjson.GetBytes(body, "messages").IsArray() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"model: a Claude model is required in the body of count-tokens, and messages"}}`)
			return
		}
		v.record(call)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"input_tokens":%d}`, ClaudeTokenCount(body))
	case publisher == "anthropic" && (method == "rawPredict" || method == "streamRawPredict"):
		if gjson.GetBytes(body, "anthropic_version").String() != "vertex-2023-10-16" || gjson.GetBytes(body, "model").Exists() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"type":"error","error":{"type":"invalid_request_error","message":"anthropic_version: vertex-2023-10-16 is required and model must not be in the body"}}`)
			return
		}
		v.record(call)
		if method == "rawPredict" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(anthropicAnswer(body, model))
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range anthropicStream(body, model) {
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", gjson.Get(ev, "type").Str, ev)
			w.(http.Flusher).Flush()
		}
	default:
		googleError(w, http.StatusNotFound, "NOT_FOUND", "no such method: "+method)
	}
}

func (v *Vertex) record(c VertexCall) {
	v.mu.Lock()
	v.calls = append(v.calls, c)
	v.mu.Unlock()
}

// token serves the JWT bearer grant.
func (v *Vertex) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		oauthError(w, "unsupported_grant_type", "Invalid grant_type")
		return
	}
	claims, err := v.verifyJWT(r.PostForm.Get("assertion"))
	if err != nil {
		oauthError(w, "invalid_grant", err.Error())
		return
	}
	if !strings.Contains(claims.Get("scope").String(), "https://www.googleapis.com/auth/cloud-platform") {
		oauthError(w, "invalid_scope", "the cloud-platform scope is required")
		return
	}
	life := v.TokenLifetime
	if life == 0 {
		life = time.Hour
	}
	v.mu.Lock()
	if v.tokens == nil {
		v.tokens = map[string]time.Time{}
	}
	v.issued++
	tok := fmt.Sprintf("ya29.fake-token-%d", v.issued)
	v.tokens[tok] = time.Now().Add(life)
	v.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"token_type":"Bearer"}`, tok, int(life.Seconds()))
}

// verifyJWT checks an RS256 assertion's signature, issuer, audience and times, and returns its claims.
func (v *Vertex) verifyJWT(assertion string) (gjson.Result, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return gjson.Result{}, fmt.Errorf("malformed assertion")
	}
	head, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	payload, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || gjson.GetBytes(head, "alg").String() != "RS256" {
		return gjson.Result{}, fmt.Errorf("malformed assertion")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(v.Key, crypto.SHA256, sum[:], sig) != nil {
		return gjson.Result{}, fmt.Errorf("Invalid JWT Signature.")
	}
	c := gjson.ParseBytes(payload)
	now := time.Now().Unix()
	switch {
	case c.Get("iss").String() != v.ClientEmail:
		return c, fmt.Errorf("Invalid JWT: unknown issuer")
	case c.Get("aud").String() != v.TokenURL:
		return c, fmt.Errorf("Invalid JWT: audience is not the token endpoint")
	case c.Get("exp").Int() < now || c.Get("iat").Int() > now+300:
		return c, fmt.Errorf("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
	}
	return c, nil
}

func googleError(w http.ResponseWriter, status int, rpc, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%d,"message":%q,"status":%q}}`, status, msg, rpc)
}

func oauthError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, desc)
}

// geminiAnswer is a generateContent answer: a function call when the request declares functions, else text.
func geminiAnswer(req []byte, usage bool) []byte {
	u := ""
	if usage {
		u = `,"usageMetadata":{"promptTokenCount":21,"candidatesTokenCount":9,"totalTokenCount":30}`
	}
	if gjson.GetBytes(req, "tools.0.functionDeclarations.0.name").Exists() {
		name := gjson.GetBytes(req, "tools.0.functionDeclarations.0.name").String()
		return []byte(`{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":` + jsonString(name) +
			`,"args":{"city":"Paris"}}}]},"finishReason":"STOP"}]` + u + `,"modelVersion":"gemini-2.5-flash"}`)
	}
	return []byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello from Vertex Gemini."}]},"finishReason":"STOP"}]` + u + `,"modelVersion":"gemini-2.5-flash"}`)
}

func geminiStream(req []byte) []string {
	if gjson.GetBytes(req, "tools.0.functionDeclarations.0.name").Exists() {
		return []string{string(geminiAnswer(req, true))}
	}
	return []string{
		`{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello from "}]}}],"modelVersion":"gemini-2.5-flash"}`,
		`{"candidates":[{"content":{"role":"model","parts":[{"text":"Vertex Gemini."}]},"finishReason":"STOP"}],` +
			`"usageMetadata":{"promptTokenCount":21,"candidatesTokenCount":9,"totalTokenCount":30},"modelVersion":"gemini-2.5-flash"}`,
	}
}

// anthropicAnswer is a Messages answer with usage that includes cache reads and writes.
func anthropicAnswer(req []byte, model string) []byte {
	return ClaudeMessage(req, "msg_vrtx_01", model, "Hello from Claude on Vertex.")
}

func anthropicStream(req []byte, model string) []string {
	return ClaudeEvents(anthropicAnswer(req, model))
}
