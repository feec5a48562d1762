package gateway

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// serveModels answers GET …/models with every name the gateway serves, in OpenAI's list format, and
// GET …/models/{id} with one of them.
func (g *Gateway) serveModels(w http.ResponseWriter, r *http.Request, ep Endpoint, res *Result) {
	models := g.router.Models()
	b := make([]byte, 0, 128+96*len(models))
	if ep == GetModel {
		id := r.URL.Path[strings.Index(r.URL.Path, "/models/")+len("/models/"):]
		if _, err := g.router.Resolve(id); err != nil {
			g.fail(w, res, asError(err))
			return
		}
		owner, _, _ := strings.Cut(id, "/")
		for _, m := range models {
			if m.ID == id {
				owner = m.OwnedBy
			}
		}
		b = appendModel(b, id, owner, g.created, g.modelEndpoints(id))
	} else {
		b = append(b, `{"object":"list","data":[`...)
		for i, m := range models {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendModel(b, m.ID, m.OwnedBy, g.created, g.modelEndpoints(m.ID))
		}
		b = append(b, "]}"...)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	res.Status = http.StatusOK
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
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
