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
		b = appendModel(b, id, owner, g.created)
	} else {
		b = append(b, `{"object":"list","data":[`...)
		for i, m := range models {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendModel(b, m.ID, m.OwnedBy, g.created)
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

func appendModel(b []byte, id, owner string, created int64) []byte {
	b = append(b, `{"id":`...)
	b = transform.AppendJSONString(b, id)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"owned_by":`...)
	b = transform.AppendJSONString(b, owner)
	return append(b, '}')
}
