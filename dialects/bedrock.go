package dialects

import (
	"fmt"
	"os"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"

	"github.com/aibackend/caddy-ai-gateway/internal/awscreds"
	"github.com/aibackend/caddy-ai-gateway/internal/caddyopt"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

func init() {
	caddy.RegisterModule(Bedrock{})
}

// Bedrock is the dialect of Amazon Bedrock's Converse API, translated from and to OpenAI's Chat Completions,
// and of InvokeModel for Anthropic's Messages API on Claude models.
// Credentials: each credential set below is a target of its own, as is each api_key of the provider (a
// Bedrock API key, sent as Authorization: Bearer); with neither, requests are signed with the default AWS
// chain (environment, shared credentials file, container credentials, EC2 instance role).
type Bedrock struct {
	// Region is the AWS region, e.g. us-east-1; the base URL becomes https://bedrock-runtime.<region>.amazonaws.com.
	// Default: AWS_REGION, else AWS_DEFAULT_REGION. Placeholders are resolved when the config is loaded.
	Region string `json:"region,omitempty"`
	// Credentials are AWS access keys, each a target (balanced like several API keys). Use placeholders such
	// as {env.AWS_SECRET_ACCESS_KEY}: they are resolved when the config is loaded.
	Credentials []AWSCredentials `json:"credentials,omitempty"`
	// AllowedBetas are the only Anthropic beta features Messages API clients (Claude Code) may ask Claude
	// models for; the others are dropped, since Bedrock refuses a request naming a beta it does not know.
	// Default: the betas AWS documents for Claude on Bedrock (transform.BedrockDefaultBetas).
	AllowedBetas []string `json:"allowed_betas,omitempty"`

	region  string
	creds   []string
	dialect transform.Dialect
}

// AWSCredentials is one set of AWS access keys.
type AWSCredentials struct {
	// AccessKeyID is the access key id (AKIA…, ASIA… for temporary credentials).
	AccessKeyID string `json:"access_key_id"`
	// SecretAccessKey is the secret access key.
	SecretAccessKey string `json:"secret_access_key"`
	// SessionToken is the session token of temporary credentials.
	SessionToken string `json:"session_token,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Bedrock) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{ID: Namespace + ".bedrock", New: func() caddy.Module { return new(Bedrock) }}
}

// Provision resolves the region and credentials and builds the translator.
func (b *Bedrock) Provision(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	b.region = repl.ReplaceAll(b.Region, "")
	if b.region == "" {
		b.region = os.Getenv("AWS_REGION")
	}
	if b.region == "" {
		b.region = os.Getenv("AWS_DEFAULT_REGION")
	}
	opts := transform.BedrockOptions{Region: b.region, Default: awscreds.Chain(), Betas: b.AllowedBetas}
	for i, c := range b.Credentials {
		id, secret := repl.ReplaceAll(c.AccessKeyID, ""), repl.ReplaceAll(c.SecretAccessKey, "")
		if id == "" || secret == "" {
			// kept as a target whose requests fail saying so, rather than signed with other credentials
			ctx.Logger().Warn("bedrock: a credential set resolved to an empty access_key_id or secret_access_key; its requests will fail", zap.Int("set", i+1))
		}
		opts.CredentialSets = append(opts.CredentialSets, awscreds.Static(id, secret, repl.ReplaceAll(c.SessionToken, "")))
		b.creds = append(b.creds, transform.BedrockCredentialPrefix+strconv.Itoa(i))
	}
	b.dialect = transform.NewBedrock(opts)
	return nil
}

// Validate requires a region.
func (b *Bedrock) Validate() error {
	if b.region == "" {
		return fmt.Errorf("bedrock needs a region: set region (e.g. us-east-1) or AWS_REGION")
	}
	return nil
}

// Translator returns the Bedrock translator.
func (b *Bedrock) Translator() transform.Dialect { return b.dialect }

// BaseURL is the region's bedrock-runtime endpoint.
func (b *Bedrock) BaseURL() string { return transform.BedrockBaseURL(b.region) }

// Keyless is true: without api_key or credentials the default AWS chain signs the requests.
func (b *Bedrock) Keyless() bool { return true }

// TargetCredentials returns one credential per configured set, each a target.
func (b *Bedrock) TargetCredentials() []string { return b.creds }

var bedrockOptions = caddyopt.Table[*Bedrock]{
	{Name: "region", Parse: func(d *caddyfile.Dispenser, b *Bedrock) (err error) {
		b.Region, err = caddyopt.String(d)
		return err
	}},
	{Name: "access_key_id", Parse: func(d *caddyfile.Dispenser, b *Bedrock) (err error) {
		c := b.first()
		c.AccessKeyID, err = caddyopt.String(d)
		return err
	}},
	{Name: "secret_access_key", Parse: func(d *caddyfile.Dispenser, b *Bedrock) (err error) {
		c := b.first()
		c.SecretAccessKey, err = caddyopt.String(d)
		return err
	}},
	{Name: "session_token", Parse: func(d *caddyfile.Dispenser, b *Bedrock) (err error) {
		c := b.first()
		c.SessionToken, err = caddyopt.String(d)
		return err
	}},
	{Name: "allowed_betas", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *Bedrock) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.Errf("allowed_betas needs at least one beta feature name, e.g. interleaved-thinking-2025-05-14")
		}
		b.AllowedBetas = append(b.AllowedBetas, args...)
		return nil
	}},
	{Name: "credentials", Repeatable: true, Parse: func(d *caddyfile.Dispenser, b *Bedrock) error {
		args := d.RemainingArgs()
		if len(args) < 2 || len(args) > 3 {
			return d.Errf("credentials takes <access_key_id> <secret_access_key> [<session_token>]")
		}
		c := AWSCredentials{AccessKeyID: args[0], SecretAccessKey: args[1]}
		if len(args) == 3 {
			c.SessionToken = args[2]
		}
		b.Credentials = append(b.Credentials, c)
		return nil
	}},
}

// first returns the credential set the single-line options fill: the first one, created when needed.
func (b *Bedrock) first() *AWSCredentials {
	if len(b.Credentials) == 0 {
		b.Credentials = append(b.Credentials, AWSCredentials{})
	}
	return &b.Credentials[0]
}

// UnmarshalCaddyfile reads the bedrock options of a provider block. Syntax:
//
//	region            <region>        # default AWS_REGION / AWS_DEFAULT_REGION
//	access_key_id     <id>            # e.g. {env.AWS_ACCESS_KEY_ID}
//	secret_access_key <secret>        # e.g. {env.AWS_SECRET_ACCESS_KEY}
//	session_token     <token>         # temporary credentials
//	credentials <id> <secret> [<token>]  # repeatable: more credential sets, each a target
//	allowed_betas     <feature...>    # Claude betas Messages API clients may ask for; repeatable
//
// Without credentials or api_key (a Bedrock API key), the default AWS chain signs the requests. The Messages
// API (/v1/messages) is served natively for Claude models (InvokeModel), through Converse for the others.
func (b *Bedrock) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // type name
	if err := bedrockOptions.Parse(d, b, nil, "", func(d *caddyfile.Dispenser) error {
		return unrecognized(d, "bedrock", bedrockOptions.Names())
	}); err != nil {
		return err
	}
	for i, c := range b.Credentials {
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return fmt.Errorf("bedrock credentials %d: access_key_id and secret_access_key go together", i+1)
		}
	}
	return nil
}

func (*Bedrock) caddyfileOptions() []string { return bedrockOptions.Names() }

var (
	_ Dialect               = (*Bedrock)(nil)
	_ TargetCredentials     = (*Bedrock)(nil)
	_ caddy.Provisioner     = (*Bedrock)(nil)
	_ caddy.Validator       = (*Bedrock)(nil)
	_ caddyfile.Unmarshaler = (*Bedrock)(nil)
)
