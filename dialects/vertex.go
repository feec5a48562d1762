package dialects

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/aibackend/caddy-ai-gateway/internal/caddyopt"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

func init() {
	caddy.RegisterModule(Vertex{})
}

// vertexScope is the OAuth2 scope of Vertex AI.
const vertexScope = "https://www.googleapis.com/auth/cloud-platform"

// vertexEarlyRefresh is how long before its expiry an access token is replaced, so that no request goes out
// with a token that expires on the way.
const vertexEarlyRefresh = time.Minute

// Vertex is the dialect of Google Cloud's Vertex AI: Gemini models (publishers/google) with the Gemini
// translation and Claude models (publishers/anthropic, rawPredict) with the Anthropic translation, and
// Anthropic's Messages API passed through to Claude models.
// Credentials: OAuth2 access tokens from a service account key (credentials_file, or credentials_json from a
// placeholder) or Application Default Credentials, shared by all requests of the provider and refreshed a
// minute before they expire; or an api_key (a Google Cloud API key), sent as x-goog-api-key.
type Vertex struct {
	// Project is the Google Cloud project id. Default: the credentials' project_id, else
	// GOOGLE_CLOUD_PROJECT.
	Project string `json:"project,omitempty"`
	// Location is the region (us-central1, europe-west4, …) or global. Default: global.
	Location string `json:"location,omitempty"`
	// CredentialsFile is the path of a service account key file. Default: Application Default Credentials.
	CredentialsFile string `json:"credentials_file,omitempty"`
	// CredentialsJSON is a service account key's JSON itself, normally a placeholder such as
	// {env.VERTEX_CREDENTIALS}; resolved when the config is loaded.
	CredentialsJSON string `json:"credentials_json,omitempty"`
	// TokenURL overrides the OAuth2 token endpoint of a service account key (its token_uri).
	TokenURL string `json:"token_url,omitempty"`
	// DefaultMaxTokens is sent to Claude models when the request sets no max_tokens. Default: 4096.
	DefaultMaxTokens int `json:"default_max_tokens,omitempty"`
	// IncludeThoughts asks Gemini thinking models for thought summaries, returned as reasoning_content.
	IncludeThoughts bool `json:"include_thoughts,omitempty"`
	// AllowedBetas, when not empty, are the only Anthropic beta features Messages API clients may ask
	// Claude models for (the anthropic-beta header); the others are dropped. Default: all.
	AllowedBetas []string `json:"allowed_betas,omitempty"`

	project, location string
	dialect           transform.Dialect
}

// CaddyModule returns the Caddy module information.
func (Vertex) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".vertex", New: func() caddy.Module { return new(Vertex) }}
}

// Provision loads the credentials and builds the translator. Missing Application Default Credentials are
// not an error here (an api_key may be used): requests then fail with a message saying what to set.
func (v *Vertex) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	v.project, v.location = repl.ReplaceAll(v.Project, ""), repl.ReplaceAll(v.Location, "")
	if v.location == "" {
		v.location = "global"
	}
	ts, project, err := v.tokenSource(repl)
	if err != nil {
		return err
	}
	if ts == nil {
		ctx.Logger().Warn("vertex: no OAuth2 credentials (credentials_file or credentials_json resolved to nothing, or no Application Default Credentials); requests need an api_key")
	}
	if v.project == "" {
		v.project = project
	}
	if v.project == "" {
		v.project = os.Getenv("GOOGLE_CLOUD_PROJECT")
	}
	v.dialect = transform.NewVertex(transform.VertexOptions{Project: v.project, Location: v.location, TokenSource: ts,
		Gemini:    transform.GeminiOptions{IncludeThoughts: v.IncludeThoughts},
		Anthropic: transform.AnthropicOptions{DefaultMaxTokens: v.DefaultMaxTokens, Betas: v.AllowedBetas}})
	if ts != nil {
		ctx.Logger().Debug("vertex credentials loaded", zap.String("project", v.project), zap.String("location", v.location))
	}
	return nil
}

// tokenSource returns the shared token source and the credentials' project id; nil without credentials.
func (v *Vertex) tokenSource(repl *caddy.Replacer) (oauth2.TokenSource, string, error) {
	// token requests get a client with a timeout: an Authorize call must not hang on the token endpoint
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, &http.Client{Timeout: 30 * time.Second})
	raw := []byte(repl.ReplaceAll(v.CredentialsJSON, ""))
	file := repl.ReplaceAll(v.CredentialsFile, "")
	if len(raw) == 0 && file == "" && (v.CredentialsJSON != "" || v.CredentialsFile != "") {
		return nil, "", nil // configured but resolved to nothing: no credentials rather than other ones
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("vertex credentials_file: %v", err)
		}
		raw = b
	}
	if len(raw) == 0 {
		creds, err := google.FindDefaultCredentials(ctx, vertexScope)
		if err != nil {
			return nil, "", nil
		}
		if len(creds.JSON) == 0 || gjson.GetBytes(creds.JSON, "type").String() != "service_account" {
			return creds.TokenSource, creds.ProjectID, nil // metadata server, user or external account
		}
		raw = creds.JSON
	}
	if !gjson.ValidBytes(raw) || gjson.GetBytes(raw, "type").String() != "service_account" {
		return nil, "", fmt.Errorf("vertex credentials: not a service account key (a JSON object with \"type\": \"service_account\"); for other credentials use Application Default Credentials")
	}
	cfg, err := google.JWTConfigFromJSON(raw, vertexScope)
	if err != nil {
		return nil, "", fmt.Errorf("vertex credentials: %v", err)
	}
	if tu := repl.ReplaceAll(v.TokenURL, ""); tu != "" {
		cfg.TokenURL = tu
	}
	return oauth2.ReuseTokenSourceWithExpiry(nil, cfg.TokenSource(ctx), vertexEarlyRefresh), gjson.GetBytes(raw, "project_id").String(), nil
}

// Validate requires a project, and a project and location that fit in the URL path.
func (v *Vertex) Validate() error {
	if v.project == "" {
		return fmt.Errorf("vertex needs a project: set project, use credentials with a project_id, or set GOOGLE_CLOUD_PROJECT")
	}
	for name, val := range map[string]string{"project": v.project, "location": v.location} {
		if strings.ContainsAny(val, "/?#%\\ ") || val == "." || val == ".." {
			return fmt.Errorf("vertex %s %q: must be a plain name", name, val)
		}
	}
	if v.DefaultMaxTokens < 0 {
		return fmt.Errorf("default_max_tokens %d: must be positive (omit it for the default)", v.DefaultMaxTokens)
	}
	return nil
}

// Translator returns the Vertex translator.
func (v *Vertex) Translator() transform.Dialect { return v.dialect }

// BaseURL is the location's endpoint.
func (v *Vertex) BaseURL() string { return transform.VertexBaseURL(v.location) }

// Keyless is true: OAuth2 credentials, not an api_key, are the usual credential.
func (v *Vertex) Keyless() bool { return true }

var vertexOptions = caddyopt.Table[*Vertex]{
	{Name: "project", Parse: func(d *caddyfile.Dispenser, v *Vertex) (err error) {
		v.Project, err = caddyopt.String(d)
		return err
	}},
	{Name: "location", Parse: func(d *caddyfile.Dispenser, v *Vertex) (err error) {
		v.Location, err = caddyopt.String(d)
		return err
	}},
	{Name: "credentials_file", Parse: func(d *caddyfile.Dispenser, v *Vertex) (err error) {
		v.CredentialsFile, err = caddyopt.String(d)
		return err
	}},
	{Name: "credentials_json", Parse: func(d *caddyfile.Dispenser, v *Vertex) (err error) {
		v.CredentialsJSON, err = caddyopt.String(d)
		return err
	}},
	{Name: "token_url", Parse: func(d *caddyfile.Dispenser, v *Vertex) (err error) {
		v.TokenURL, err = caddyopt.String(d)
		return err
	}},
	{Name: "default_max_tokens", Parse: func(d *caddyfile.Dispenser, v *Vertex) (err error) {
		v.DefaultMaxTokens, err = caddyopt.Int(d, 1)
		return err
	}},
	{Name: "include_thoughts", Parse: func(d *caddyfile.Dispenser, v *Vertex) error {
		v.IncludeThoughts = true
		return caddyopt.Flag(d)
	}},
	{Name: "allowed_betas", Repeatable: true, Parse: func(d *caddyfile.Dispenser, v *Vertex) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.Errf("allowed_betas needs at least one beta feature name, e.g. interleaved-thinking-2025-05-14")
		}
		v.AllowedBetas = append(v.AllowedBetas, args...)
		return nil
	}},
}

// UnmarshalCaddyfile reads the vertex options of a provider block. Syntax:
//
//	project            <id>           # default: the credentials' project_id, GOOGLE_CLOUD_PROJECT
//	location           <region>       # us-central1, europe-west4, … or global (the default)
//	credentials_file   <path>         # a service account key; default: Application Default Credentials
//	credentials_json   <json>         # the key itself, e.g. {env.VERTEX_CREDENTIALS}
//	token_url          <url>          # override the key's OAuth2 token endpoint
//	default_max_tokens <n>            # Claude models; default 4096
//	include_thoughts                  # Gemini thought summaries as reasoning_content
//	allowed_betas      <feature...>   # Claude betas Messages API clients may ask for; repeatable
//
// The Messages API (/v1/messages) is served natively for Claude models (rawPredict), through
// generateContent for Gemini models.
func (v *Vertex) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // type name
	return vertexOptions.Parse(d, v, nil, "", func(d *caddyfile.Dispenser) error {
		return unrecognized(d, "vertex", vertexOptions.Names())
	})
}

func (*Vertex) caddyfileOptions() []string { return vertexOptions.Names() }

var (
	_ Dialect               = (*Vertex)(nil)
	_ caddy.Provisioner     = (*Vertex)(nil)
	_ caddy.Validator       = (*Vertex)(nil)
	_ caddyfile.Unmarshaler = (*Vertex)(nil)
)
