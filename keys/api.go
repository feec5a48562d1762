package keys

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aibackend/caddy-ai-gateway/ratelimit"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// route is what a request path asks of the management API.
type route struct {
	kind  routeKind
	id    string
	asset string
}

type routeKind uint8

const (
	notOurs    routeKind = iota
	keyList              // …/keys
	keyOne               // …/keys/{id}
	keyRotate            // …/keys/{id}/rotate
	keySelf              // …/key
	console              // …/console/<asset>
	consoleDir           // …/console (redirected to …/console/)
)

// parseRoute finds the management API at the end of a path, whatever prefix the gateway is under.
func parseRoute(p string) route {
	segs := strings.Split(p, "/")
	n := len(segs)
	last := segs[n-1]
	at := func(i int) string {
		if n-i < 0 {
			return ""
		}
		return segs[n-i]
	}
	switch {
	case last == "keys":
		return route{kind: keyList}
	case last == "key":
		return route{kind: keySelf}
	case at(2) == "keys" && validID(last):
		return route{kind: keyOne, id: last}
	case at(3) == "keys" && validID(at(2)) && last == "rotate":
		return route{kind: keyRotate, id: at(2)}
	case last == "console":
		return route{kind: consoleDir}
	case at(2) == "console" && (last == "" || consoleAssets[last] != ""):
		return route{kind: console, asset: last}
	}
	return route{}
}

// Serves reports whether the manager answers a request for path p (the key API always; the console when
// configured).
func (m *Manager) Serves(p string) bool {
	switch parseRoute(p).kind {
	case notOurs:
		return false
	case console, consoleDir:
		return m.cfg.Console
	}
	return true
}

// maxBody bounds a management request's body.
const maxBody = 64 << 10

// ServeHTTP serves the management API: POST/GET …/keys, GET/PATCH/DELETE …/keys/{id},
// POST …/keys/{id}/rotate with an admin key, GET …/key with a virtual key, and the console's files.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := parseRoute(r.URL.Path)
	switch rt.kind {
	case console, consoleDir:
		if !m.cfg.Console {
			break
		}
		m.serveConsole(w, r, rt)
		return
	case keySelf:
		m.serveSelf(w, r)
		return
	case keyList, keyOne, keyRotate:
		admin, e := m.admin(r)
		if e != nil {
			writeError(w, e)
			return
		}
		m.serveAdmin(w, r, rt, admin)
		return
	}
	writeError(w, apiError(http.StatusNotFound, "unknown_url", "unknown request URL: "+r.URL.Path))
}

// bearer returns the request's Bearer token, or an error for none or several Authorization headers.
func bearer(r *http.Request) (string, *transform.Error) {
	if len(r.Header.Values("Authorization")) > 1 {
		return "", apiError(http.StatusBadRequest, "multiple_authorization_headers",
			"the request has more than one Authorization header: send exactly one, 'Authorization: Bearer <key>'")
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(key) == "" {
		return "", apiError(http.StatusUnauthorized, "invalid_api_key", "missing API key: send it as 'Authorization: Bearer <key>'")
	}
	return strings.TrimSpace(key), nil
}

// admin checks that the request carries an admin key and returns its identity.
func (m *Manager) admin(r *http.Request) (string, *transform.Error) {
	key, e := bearer(r)
	if e != nil {
		return "", e
	}
	if m.IsAdmin(key) {
		return adminID(key), nil
	}
	if matchAny(m.statics, key) {
		return "", forbiddenClient()
	}
	if _, err := m.Authenticate(r.Context(), key); err == nil {
		return "", forbiddenClient()
	}
	return "", apiError(http.StatusUnauthorized, "invalid_api_key", "incorrect admin key provided")
}

func forbiddenClient() *transform.Error {
	return apiError(http.StatusForbidden, "admin_key_required",
		"client keys cannot manage keys: use an admin key (admin_keys in the gateway's virtual_keys block)")
}

func apiError(status int, code, msg string) *transform.Error {
	typ := "invalid_request_error"
	if status >= 500 {
		typ = "server_error"
	}
	return transform.NewError(status, typ, code, msg)
}

func writeError(w http.ResponseWriter, e *transform.Error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	e.WriteHeaders(h)
	w.WriteHeader(e.Status)
	_, _ = w.Write(append(e.AppendJSON(nil), '\n'))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, apiError(http.StatusInternalServerError, "", "cannot encode the answer"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func storeFailed(err error) *transform.Error {
	if errors.Is(err, ErrNotFound) {
		return apiError(http.StatusNotFound, "key_not_found", "no virtual key has this id")
	}
	return apiError(http.StatusServiceUnavailable, "key_store_unavailable", "the virtual key store failed: "+err.Error())
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeError(w, apiError(http.StatusMethodNotAllowed, "method_not_allowed", "use "+allow))
}

// serveAdmin serves the key endpoints to an admin.
func (m *Manager) serveAdmin(w http.ResponseWriter, r *http.Request, rt route, admin string) {
	ctx := r.Context()
	audit := Audit{Admin: admin, KeyID: rt.id, Remote: r.RemoteAddr}
	switch {
	case rt.kind == keyList && r.Method == http.MethodGet:
		m.list(w, r)
	case rt.kind == keyList && r.Method == http.MethodPost:
		body, e := readBody(w, r)
		if e != nil {
			writeError(w, e)
			return
		}
		now := m.now().UTC()
		k := &Key{CreatedAt: now, UpdatedAt: now}
		if e := applyChange(k, body, true); e != nil {
			writeError(w, e)
			return
		}
		var secret string
		for range 3 {
			k.ID = newID()
			secret, k.SecretHash, k.Hint = newSecret(k.ID)
			if err := m.cfg.Store.Create(ctx, k); !errors.Is(err, errDuplicate) {
				if err != nil {
					writeError(w, storeFailed(err))
					return
				}
				break
			}
		}
		audit.Action, audit.KeyID, audit.KeyName = "create", k.ID, k.Name
		m.audit(audit)
		writeJSON(w, http.StatusCreated, map[string]any{"data": m.view(ctx, k, false), "key": secret})
	case rt.kind == keyList:
		methodNotAllowed(w, "GET, POST")
	case rt.kind == keyOne && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		k, err := m.cfg.Store.Get(ctx, rt.id)
		if err != nil {
			writeError(w, storeFailed(err))
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": m.view(ctx, k, true)})
	case rt.kind == keyOne && r.Method == http.MethodPatch:
		body, e := readBody(w, r)
		if e != nil {
			writeError(w, e)
			return
		}
		var bad *transform.Error
		k, err := m.cfg.Store.Update(ctx, rt.id, func(k *Key) error {
			if bad = applyChange(k, body, false); bad != nil {
				return bad
			}
			k.UpdatedAt = m.now().UTC()
			return nil
		})
		if bad != nil {
			writeError(w, bad)
			return
		}
		if err != nil {
			writeError(w, storeFailed(err))
			return
		}
		audit.Action, audit.KeyName = "update", k.Name
		m.audit(audit)
		writeJSON(w, http.StatusOK, map[string]any{"data": m.view(ctx, k, false)})
	case rt.kind == keyOne && r.Method == http.MethodDelete:
		k, err := m.cfg.Store.Get(ctx, rt.id)
		if err == nil {
			err = m.cfg.Store.Delete(ctx, rt.id)
		}
		if err != nil {
			writeError(w, storeFailed(err))
			return
		}
		audit.Action, audit.KeyName = "delete", k.Name
		m.audit(audit)
		writeJSON(w, http.StatusOK, map[string]any{"deleted": true, "id": rt.id})
	case rt.kind == keyOne:
		methodNotAllowed(w, "GET, PATCH, DELETE")
	case rt.kind == keyRotate && r.Method == http.MethodPost:
		var secret string
		k, err := m.cfg.Store.Update(ctx, rt.id, func(k *Key) error {
			secret, k.SecretHash, k.Hint = newSecret(k.ID)
			k.UpdatedAt = m.now().UTC()
			return nil
		})
		if err != nil {
			writeError(w, storeFailed(err))
			return
		}
		audit.Action, audit.KeyName = "rotate", k.Name
		m.audit(audit)
		writeJSON(w, http.StatusOK, map[string]any{"data": m.view(ctx, k, false), "key": secret})
	default:
		methodNotAllowed(w, "POST")
	}
}

// list answers GET …/keys?offset=&limit=.
func (m *Manager) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	offset, limit := 0, 100
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, apiError(http.StatusBadRequest, "invalid_offset", "offset must be a whole number, 0 or more"))
			return
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, apiError(http.StatusBadRequest, "invalid_limit", "limit must be a whole number from 1 to 500"))
			return
		}
		limit = n
	}
	ks, total, err := m.cfg.Store.List(r.Context(), offset, limit)
	if err != nil {
		writeError(w, storeFailed(err))
		return
	}
	data := make([]*keyView, len(ks))
	for i, k := range ks {
		data[i] = m.view(r.Context(), k, false)
	}
	var next *int
	if offset+len(ks) < total {
		n := offset + len(ks)
		next = &n
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "total": total, "next_offset": next})
}

// serveSelf answers GET …/key: the calling virtual key's own limits and usage.
func (m *Manager) serveSelf(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET")
		return
	}
	secret, e := bearer(r)
	if e != nil {
		writeError(w, e)
		return
	}
	if m.IsAdmin(secret) {
		writeError(w, apiError(http.StatusBadRequest, "admin_key", "this is an admin key, which has no usage: list the keys with GET …/keys"))
		return
	}
	if matchAny(m.statics, secret) {
		writeError(w, apiError(http.StatusNotFound, "static_key", "this is a static client key from the configuration: only virtual keys have limits and usage to show"))
		return
	}
	k, err := m.Authenticate(r.Context(), secret)
	if err != nil {
		var ae *AuthError
		errors.As(err, &ae)
		writeError(w, apiError(ae.Status, ae.Code, ae.Message))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": m.view(r.Context(), k, true)})
}

// readBody reads a JSON object body of at most maxBody bytes.
func readBody(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, *transform.Error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return nil, apiError(http.StatusRequestEntityTooLarge, "request_too_large", "the body is larger than 64 KiB")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		b = []byte("{}")
	}
	if err := transform.CheckJSON(b); err != nil {
		return nil, apiError(http.StatusBadRequest, "invalid_json", "the body is not valid JSON: "+err.Error())
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, apiError(http.StatusBadRequest, "invalid_json", "the body must be a JSON object")
	}
	return fields, nil
}

// applyChange sets the fields of body on k; create requires a name. A field set to null is cleared.
func applyChange(k *Key, body map[string]json.RawMessage, create bool) *transform.Error {
	bad := func(field, msg string) *transform.Error {
		e := apiError(http.StatusBadRequest, "invalid_"+field, field+": "+msg)
		e.Param = field
		return e
	}
	str := func(field string, raw json.RawMessage) (string, bool, *transform.Error) {
		if string(raw) == "null" {
			return "", false, nil
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false, bad(field, "must be a string")
		}
		return s, true, nil
	}
	if _, ok := body["limit_reset"]; ok {
		if _, has := body["limit"]; !has && k.Budget.IsZero() {
			return bad("limit_reset", "set limit (USD) with it")
		}
	}
	for field, raw := range body {
		switch field {
		case "name":
			s, _, e := str(field, raw)
			if e != nil {
				return e
			}
			s = strings.TrimSpace(s)
			if s == "" || utf8.RuneCountInString(s) > 100 || !utf8.ValidString(s) {
				return bad(field, "must be 1 to 100 characters")
			}
			k.Name = s
		case "models":
			var ms []string
			if string(raw) != "null" && json.Unmarshal(raw, &ms) != nil {
				return bad(field, `must be a list of model globs such as ["openai/*"]`)
			}
			if len(ms) > 100 {
				return bad(field, "at most 100 globs")
			}
			for _, g := range ms {
				if _, err := path.Match(g, ""); err != nil || g == "" || len(g) > 200 {
					return bad(field, "'"+g+"' is not a glob such as openai/* or anthropic/claude-*")
				}
			}
			k.Models = ms
		case "requests", "tokens":
			s, set, e := str(field, raw)
			if e != nil {
				return e
			}
			var rate ratelimit.Rate
			if set && s != "" {
				var err error
				if rate, err = ratelimit.ParseRate(s); err != nil {
					return bad(field, err.Error())
				}
			}
			if field == "requests" {
				k.Requests = rate
			} else {
				k.Tokens = rate
			}
		case "limit":
			if string(raw) == "null" {
				k.Budget = ratelimit.Budget{}
				continue
			}
			var usd float64
			if json.Unmarshal(raw, &usd) != nil || !(usd > 0) || math.IsInf(usd, 0) {
				return bad(field, "must be a positive number of USD, or null for no budget")
			}
			p := k.Budget.Period
			if p == ratelimit.NoPeriod {
				p = ratelimit.Month
			}
			b, err := ratelimit.ParseBudget(strconv.FormatFloat(usd, 'f', -1, 64) + "usd/" + p.String())
			if err != nil {
				return bad(field, err.Error())
			}
			k.Budget = b
		case "limit_reset":
			s, _, e := str(field, raw)
			if e != nil {
				return e
			}
			p, ok := periods[s]
			if !ok {
				return bad(field, "must be hourly, daily or monthly (or 1m, 1h, 1d, 1mo)")
			}
			defer func() { // after limit, whatever the order of the fields
				if !k.Budget.IsZero() {
					k.Budget.Period = p
				}
			}()
		case "expires_at":
			s, set, e := str(field, raw)
			if e != nil {
				return e
			}
			if !set || s == "" {
				k.ExpiresAt = nil
				continue
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return bad(field, "must be an RFC 3339 time such as 2027-01-31T00:00:00Z, or null")
			}
			t = t.UTC()
			k.ExpiresAt = &t
		case "disabled":
			if json.Unmarshal(raw, &k.Disabled) != nil {
				return bad(field, "must be true or false")
			}
		case "metadata":
			var md map[string]string
			if string(raw) != "null" && json.Unmarshal(raw, &md) != nil {
				return bad(field, `must be an object of strings such as {"team":"search"}`)
			}
			if len(md) > 20 {
				return bad(field, "at most 20 entries")
			}
			for n, v := range md {
				if len(n) > 64 || len(v) > 256 || !utf8.ValidString(n) || !utf8.ValidString(v) {
					return bad(field, "names are at most 64 bytes and values at most 256")
				}
			}
			k.Metadata = md
		default:
			return bad(field, "unknown field: use name, models, requests, tokens, limit, limit_reset, expires_at, disabled or metadata")
		}
	}
	if create && k.Name == "" {
		return bad("name", "is required")
	}
	return nil
}

var periods = map[string]ratelimit.Period{"1m": ratelimit.Minute, "minutely": ratelimit.Minute,
	"1h": ratelimit.Hour, "hourly": ratelimit.Hour, "1d": ratelimit.Day, "daily": ratelimit.Day,
	"1mo": ratelimit.Month, "monthly": ratelimit.Month}

var periodWords = map[ratelimit.Period]string{ratelimit.Minute: "minutely", ratelimit.Hour: "hourly",
	ratelimit.Day: "daily", ratelimit.Month: "monthly"}

// keyView is a key as the API shows it: never its secret or the secret's hash.
type keyView struct {
	// ID is the public id; Hash repeats it under OpenRouter's name for a key's identifier.
	ID   string `json:"id"`
	Hash string `json:"hash"`
	Name string `json:"name"`
	// Label is the secret's hint, "sk-aigw-<id>_…wxyz".
	Label    string   `json:"label"`
	Status   string   `json:"status"`
	Disabled bool     `json:"disabled"`
	Models   []string `json:"models"`
	Requests *string  `json:"requests"`
	Tokens   *string  `json:"tokens"`
	// Limit is the budget in USD per LimitReset period.
	Limit          *float64 `json:"limit"`
	LimitReset     *string  `json:"limit_reset"`
	LimitRemaining *float64 `json:"limit_remaining"`
	// Usage is the USD spent in the current period; UsageDaily today (UTC).
	Usage       float64           `json:"usage"`
	UsageDaily  float64           `json:"usage_daily"`
	Today       Usage             `json:"today"`
	Period      periodUsage       `json:"period"`
	Daily       []dayUsage        `json:"daily,omitempty"`
	ExpiresAt   *time.Time        `json:"expires_at"`
	Metadata    map[string]string `json:"metadata"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	UsageFailed bool              `json:"usage_unavailable,omitempty"`
}

type periodUsage struct {
	Usage
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

type dayUsage struct {
	Date string `json:"date"`
	Usage
}

// chartDays is how many days of usage GET …/keys/{id} and GET …/key answer with.
const chartDays = 30

// view renders k with its usage: today and this period, and with daily the last chartDays days.
func (m *Manager) view(ctx context.Context, k *Key, daily bool) *keyView {
	now := m.now().UTC()
	v := &keyView{ID: k.ID, Hash: k.ID, Name: k.Name, Label: k.Hint, Status: k.Status(now), Disabled: k.Disabled,
		Models: k.Models, ExpiresAt: k.ExpiresAt, Metadata: k.Metadata, CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt}
	if v.Models == nil {
		v.Models = []string{}
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	if !k.Requests.IsZero() {
		s := k.Requests.String()
		v.Requests = &s
	}
	if !k.Tokens.IsZero() {
		s := k.Tokens.String()
		v.Tokens = &s
	}
	days := []string{day(now)}
	if daily {
		days = make([]string, chartDays)
		for i := range days {
			days[i] = day(now.AddDate(0, 0, i-chartDays+1))
		}
	}
	start, end := period(k, now)
	us, p, err := m.cfg.Store.Usage(ctx, k.ID, days, start)
	if err != nil {
		v.UsageFailed = true
		us = make([]Usage, len(days))
	}
	v.Today = us[len(us)-1]
	v.Period = periodUsage{Usage: p, Start: start, End: end}
	v.Usage, v.UsageDaily = roundUSD(p.CostUSD), roundUSD(v.Today.CostUSD)
	if daily {
		v.Daily = make([]dayUsage, len(days))
		for i, d := range days {
			v.Daily[i] = dayUsage{Date: d[:4] + "-" + d[4:6] + "-" + d[6:], Usage: us[i]}
		}
	}
	if !k.Budget.IsZero() {
		limit, word := k.Budget.USD, periodWords[k.Budget.Period]
		remaining := roundUSD(max(limit-p.CostUSD, 0))
		v.Limit, v.LimitReset, v.LimitRemaining = &limit, &word, &remaining
	}
	return v
}

func roundUSD(usd float64) float64 { return math.Round(usd*1e9) / 1e9 }
