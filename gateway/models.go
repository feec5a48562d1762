package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/aibackend/caddy-ai-gateway/keys"
	"github.com/aibackend/caddy-ai-gateway/transform"
)

// serveModels answers GET …/models with every name the gateway serves, in OpenAI's list format, and
// GET …/models/{id} with one of them. A virtual key with allowed models sees only the names that reach one.
func (g *Gateway) serveModels(w http.ResponseWriter, r *http.Request, ep Endpoint, res *Result, vk *keys.Key) {
	b := g.modelList
	restricted := vk != nil && len(vk.Models) > 0
	if ep == ListModels && restricted {
		b = g.appendAllowedModels(nil, vk)
	}
	if ep == GetModel {
		id := r.URL.Path[strings.Index(r.URL.Path, "/models/")+len("/models/"):]
		if _, err := g.router.Resolve(id); err != nil {
			g.fail(w, res, asError(err))
			return
		}
		if restricted && !g.reaches(id, vk) {
			e := transform.NewError(http.StatusForbidden, "invalid_request_error", "model_not_allowed",
				"this API key may not use model '"+id+"': ask the gateway's administrator to allow it")
			e.Param = "model"
			g.fail(w, res, e)
			return
		}
		owner, ok := g.owners[id]
		if !ok {
			owner, _, _ = strings.Cut(id, "/")
		}
		b = appendModel(make([]byte, 0, 128), id, owner, g.created, g.modelEndpoints(id))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	res.Status = http.StatusOK
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}

// appendModelList appends the answer to GET …/models and records each name's owner in g.owners. The
// configured names do not change once the Gateway is built, so New calls it once.
func (g *Gateway) appendModelList(b []byte) []byte {
	b = append(b, `{"object":"list","data":[`...)
	models := g.router.Models()
	g.owners = make(map[string]string, len(models))
	for i, m := range models {
		g.owners[m.ID] = m.OwnedBy
		if i > 0 {
			b = append(b, ',')
		}
		b = appendModel(b, m.ID, m.OwnedBy, g.created, g.modelEndpoints(m.ID))
	}
	return append(b, "]}"...)
}

// appendAllowedModels appends the model list of the names whose targets vk may reach.
func (g *Gateway) appendAllowedModels(b []byte, vk *keys.Key) []byte {
	b = append(b, `{"object":"list","data":[`...)
	first := true
	for _, m := range g.router.Models() {
		if !g.reaches(m.ID, vk) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendModel(b, m.ID, m.OwnedBy, g.created, g.modelEndpoints(m.ID))
	}
	return append(b, "]}"...)
}

// reaches reports whether vk may use some target of model (after alias and route resolution).
func (g *Gateway) reaches(model string, vk *keys.Key) bool {
	targets, err := g.router.Resolve(model)
	if err != nil {
		return false
	}
	for _, t := range targets {
		if vk.Allows(t.String()) {
			return true
		}
	}
	return false
}

// modelEndpoints is the set of endpoints some target of model can serve, a bit per Endpoint.
func (g *Gateway) modelEndpoints(model string) uint32 {
	targets, err := g.router.Resolve(model)
	if err != nil {
		return 0
	}
	var set uint32
	for _, t := range targets {
		if u := g.providers[t.Provider]; u != nil {
			for i := range endpoints {
				if u.ops[endpoints[i].id] != nil {
					set |= 1 << endpoints[i].id
				}
			}
		}
	}
	return set
}

// appendModel appends one model object, with "endpoints" listing the paths (after /v1/) it can serve.
func appendModel(b []byte, id, owner string, created int64, serves uint32) []byte {
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, id)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"owned_by":`...)
	b = transform.AppendJSONString(b, owner)
	b = append(b, `,"endpoints":[`...)
	first := true
	for i := range endpoints {
		if serves&(1<<endpoints[i].id) != 0 {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = transform.AppendJSONString(b, endpoints[i].suffix[1:])
		}
	}
	return append(b, "]}"...)
}
