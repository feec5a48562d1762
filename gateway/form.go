package gateway

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"strconv"
	"sync"

	"github.com/aibackend/caddy-ai-gateway/transform"
)

// Multipart requests (image edits, transcriptions, translations) are read part by part. The text fields up to
// the model field are read into memory; so are those after it until the first file part, where reading stops
// and the gateway routes the request. The rest of the body — that file and everything after it — is read
// from the client while it is sent upstream (form.Passthrough), so an upload costs a few tens of KiB of
// memory whatever its size. A file that comes before the model field (openai-go and the npm SDK put the file
// first) cannot be sent anywhere yet: it is spooled to a temporary file, which is replayed on each attempt
// and removed when the request ends.
//
// Retries and fallbacks: a request whose streamed part the first attempt began to read cannot be sent again,
// so it is not retried (its upstream's error goes to the client); attempts refused before any byte of the body
// was read (connection refused, rate-limited targets, open circuit breakers) move on to the next target as for
// JSON requests. A request that names fallbacks (models fields) is spooled whole before its first attempt, so
// every fallback gets the complete body.

// Limits of the text fields of a multipart request, which are held in memory.
const (
	maxFormField  = 256 << 10 // one text field (a prompt of 32,000 characters is at most 128 KiB)
	maxFormFields = 1 << 20   // all of them together
	formCopyChunk = 32 << 10  // the part of a file read and sent at a time
)

// formPart is a part read before the body began streaming: a text field in memory or a file spooled to disk.
type formPart struct {
	header textproto.MIMEHeader
	name   string
	file   bool
	value  []byte
	// off and n locate a spooled file's bytes in form.spool.
	off, n int64
}

// form is a client's multipart body being read. It implements transform.Form.
type form struct {
	mr    *multipart.Reader
	head  []formPart
	model string
	// fallbacks are the models fields' values; stream is the stream field.
	fallbacks []string
	stream    bool
	// next is the first part not read yet, nil when the body was read to its end.
	next *multipart.Part
	// spool holds the files read before the body began streaming; spoolEnd is its length.
	spool    *os.File
	spoolEnd int64
	// started is set once an attempt read from the client's remaining body: no other attempt can have it.
	started bool
	// clientErr is the error of reading the client's body while it streamed upstream.
	clientErr error
	// mu guards the client's body once it streams: an upstream transport may go on reading the body it was
	// given after its attempt ended (http.RoundTripper may close it in a goroutine of its own), and nothing
	// may read the client's body once the handler returns. close sets closed under mu; reads after it fail.
	mu     sync.Mutex
	closed bool
}

var errFormClosed = errors.New("the request has ended")

// nextPart reads the client's next part, unless the form was closed.
func (f *form) nextPart() (*multipart.Part, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errFormClosed
	}
	return f.mr.NextRawPart()
}

// readForm reads r's multipart body as far as described above, with ep's validation of its text fields. The
// returned form must be closed.
func (g *Gateway) readForm(w http.ResponseWriter, r *http.Request, ep *endpoint, req *apiRequest) (*form, *transform.Error) {
	limit := g.cfg.MaxUploadBody
	if r.ContentLength > limit {
		return nil, g.uploadTooLarge()
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, transform.InvalidRequest("", "the request body must be multipart/form-data with a boundary "+
			"(the file and the other fields as form parts)")
	}
	f := &form{mr: multipart.NewReader(http.MaxBytesReader(w, r.Body, limit), params["boundary"])}
	fields := 0
	for {
		p, err := f.mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.close()
			return nil, g.formError(err)
		}
		name, filename := p.FormName(), p.FileName()
		if filename != "" || isFileField(name) {
			if f.model != "" && len(f.fallbacks) == 0 && ep.model != modelInJSONOrForm {
				f.next = p
				break
			}
			if e := g.spoolPart(f, p, name); e != nil {
				f.close()
				return nil, e
			}
			continue
		}
		v, err := readLimited(p, maxFormField)
		if err != nil {
			f.close()
			if errors.Is(err, errTooLarge) {
				return nil, transform.InvalidRequest(name, "the form field "+name+" is longer than 256 KiB")
			}
			return nil, g.formError(err)
		}
		if fields += len(v); fields > maxFormFields {
			f.close()
			return nil, transform.InvalidRequest("", "the form's text fields are longer than 1 MiB together")
		}
		if e := f.field(req, ep, name, p.Header, v); e != nil {
			f.close()
			return nil, e
		}
	}
	return f, nil
}

// isFileField names the parts that are files even without a filename (curl -F file=<path sends one).
func isFileField(name string) bool {
	switch name {
	case "file", "image", "image[]", "mask", "input_reference":
		return true
	}
	return false
}

// field takes one text field.
func (f *form) field(req *apiRequest, ep *endpoint, name string, h textproto.MIMEHeader, v []byte) *transform.Error {
	switch name {
	case "model":
		s := string(v)
		if s == "" {
			return transform.InvalidRequest("model", "model must be a non-empty model name such as 'openai/whisper-1'")
		}
		if e := checkModelName("model", -1, s); e != nil {
			return e
		}
		f.model = s
		return nil
	case "models", "models[]":
		s := string(v)
		if e := checkModelName("models", len(f.fallbacks), s); e != nil || s == "" {
			return transform.InvalidRequest("models", "models must be non-empty model names")
		}
		f.fallbacks = append(f.fallbacks, s)
		return nil
	case "stream":
		switch string(v) {
		case "true":
			f.stream = true
		case "false":
		default:
			return transform.InvalidRequest("stream", `stream must be "true" or "false"`)
		}
	}
	if ep.formField != nil {
		if e := ep.formField(req, name, string(v)); e != nil {
			return e
		}
	}
	f.head = append(f.head, formPart{header: h, name: name, value: v})
	return nil
}

// spoolPart copies a file part to the form's temporary file.
func (g *Gateway) spoolPart(f *form, p *multipart.Part, name string) *transform.Error {
	if f.spool == nil {
		var err error
		if f.spool, err = os.CreateTemp("", "aigw-upload-*"); err != nil {
			return transform.NewError(http.StatusInternalServerError, "server_error", "upload_spool_failed",
				"the gateway could not store the upload: "+err.Error())
		}
		_ = os.Remove(f.spool.Name()) // unlinked at once: nothing is left behind, whatever happens
	}
	n, err := io.Copy(f.spool, p)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return transform.NewError(http.StatusInternalServerError, "server_error", "upload_spool_failed",
				"the gateway could not store the upload")
		}
		return g.formError(err)
	}
	f.head = append(f.head, formPart{header: p.Header, name: name, file: true, off: f.spoolEnd, n: n})
	f.spoolEnd += n
	return nil
}

// formError is the client's error for a failure to read its multipart body.
func (g *Gateway) formError(err error) *transform.Error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return g.uploadTooLarge()
	}
	return transform.InvalidRequest("", "the multipart body is malformed: "+err.Error())
}

// uploadTooLarge is the 413 for a multipart body over MaxUploadBody.
func (g *Gateway) uploadTooLarge() *transform.Error {
	return transform.NewError(http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large",
		"the upload is larger than the gateway's limit of "+formatBytes(g.cfg.MaxUploadBody)+
			": send a smaller file, or raise max_upload_body")
}

func formatBytes(n int64) string {
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// close releases the spool and ends every read of the client's body.
func (f *form) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.spool != nil {
		_ = f.spool.Close()
	}
}

// replayable reports whether another attempt can send the whole body.
func (f *form) replayable() bool { return !f.started }

// Value implements transform.Form.
func (f *form) Value(name string) (string, bool) {
	for i := range f.head {
		if p := &f.head[i]; p.name == name && !p.file {
			return string(p.value), true
		}
	}
	return "", false
}

// Passthrough implements transform.Form.
func (f *form) Passthrough(model string) (io.Reader, string) {
	fr := &formReader{f: f, model: model}
	fr.mw = multipart.NewWriter(&fr.buf)
	return fr, fr.mw.FormDataContentType()
}

// Parts implements transform.Form.
func (f *form) Parts() transform.FormParts { return &formParts{f: f} }

// formParts iterates the head parts, then the client's remaining ones.
type formParts struct {
	f *form
	i int
	// advance is set once a streamed part was returned: the next call reads the one after it.
	advance bool
}

func (fp *formParts) Next() (transform.FormPart, error) {
	f := fp.f
	if fp.i < len(f.head) {
		p := &f.head[fp.i]
		fp.i++
		var r io.Reader = bytes.NewReader(p.value)
		if p.file {
			r = io.NewSectionReader(f.spool, p.off, p.n)
		}
		return transform.FormPart{Name: p.name, Filename: fileName(p.header), ContentType: p.header.Get("Content-Type"), Body: r}, nil
	}
	for {
		if fp.advance {
			fp.advance = false
			p, err := f.nextPart()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return transform.FormPart{}, io.EOF
				}
				if f.clientErr == nil {
					f.clientErr = err
				}
				return transform.FormPart{}, err
			}
			f.next = p
		}
		p := f.next
		if p == nil {
			return transform.FormPart{}, io.EOF
		}
		f.started = true
		f.next = nil
		fp.advance = true
		if name := p.FormName(); name != "model" && !gatewayFormField(name) {
			return transform.FormPart{Name: name, Filename: p.FileName(), ContentType: p.Header.Get("Content-Type"), Body: f.watch(p)}, nil
		}
	}
}

func fileName(h textproto.MIMEHeader) string {
	_, params, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	return params["filename"]
}

// gatewayFormField names the fields the gateway consumes and never sends upstream.
func gatewayFormField(name string) bool {
	return name == "models" || name == "models[]" || name == "route"
}

// watch wraps the client's part so that its read errors are kept as the client's.
func (f *form) watch(r io.Reader) io.Reader { return &clientReader{f: f, r: r} }

type clientReader struct {
	f *form
	r io.Reader
}

func (c *clientReader) Read(p []byte) (int, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.f.closed {
		return 0, errFormClosed
	}
	n, err := c.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && c.f.clientErr == nil {
		c.f.clientErr = err
	}
	return n, err
}

// formReader is the upstream body of Passthrough: it pulls the client's parts as the upstream reads, through
// a buffer of one chunk, with no goroutine.
type formReader struct {
	f     *form
	model string
	mw    *multipart.Writer
	buf   bytes.Buffer
	// i is the next head part; modelSent is set once the model field was written.
	i         int
	modelSent bool
	cur       io.Reader
	// advance is set when the streamed part just copied is done and the next must be read.
	advance bool
	chunk   []byte
	done    bool
}

func (fr *formReader) Read(p []byte) (int, error) {
	for fr.buf.Len() == 0 {
		if fr.done {
			return 0, io.EOF
		}
		if err := fr.fill(); err != nil {
			return 0, err
		}
	}
	return fr.buf.Read(p)
}

// fill adds the next piece of the body to buf: a part's header, a chunk of its content, or the end.
func (fr *formReader) fill() error {
	f := fr.f
	if fr.cur != nil {
		if fr.chunk == nil {
			fr.chunk = make([]byte, formCopyChunk)
		}
		// Whole chunks: a part reads at most its reader's 4 KiB buffer at a time.
		n := 0
		var err error
		for n < len(fr.chunk) && err == nil {
			var m int
			m, err = fr.cur.Read(fr.chunk[n:])
			n += m
		}
		fr.buf.Write(fr.chunk[:n])
		if errors.Is(err, io.EOF) {
			fr.cur = nil
			return nil
		}
		if err != nil && f.clientErr == nil {
			f.clientErr = err
		}
		return err
	}
	if !fr.modelSent {
		fr.modelSent = true
		w, _ := fr.mw.CreateFormField("model")
		_, _ = io.WriteString(w, fr.model)
		return nil
	}
	if fr.i < len(f.head) {
		p := &f.head[fr.i]
		fr.i++
		if _, err := fr.mw.CreatePart(p.header); err != nil {
			return err
		}
		if p.file {
			fr.cur = io.NewSectionReader(f.spool, p.off, p.n)
		} else {
			fr.buf.Write(p.value)
		}
		return nil
	}
	if fr.advance {
		fr.advance = false
		p, err := f.nextPart()
		if err != nil && !errors.Is(err, io.EOF) {
			if f.clientErr == nil {
				f.clientErr = err
			}
			return err
		}
		f.next = p
		return nil
	}
	if p := f.next; p != nil {
		f.started = true
		f.next = nil
		fr.advance = true
		if name := p.FormName(); name == "model" || gatewayFormField(name) {
			return nil // skipped: NextRawPart discards what is left of it
		}
		if _, err := fr.mw.CreatePart(p.Header); err != nil {
			return err
		}
		fr.cur = f.watch(p)
		return nil
	}
	fr.done = true
	return fr.mw.Close()
}

// readFormRequest reads and validates a multipart request into x (x.form, x.req); false when it answered
// the client with an error.
func (g *Gateway) readFormRequest(w http.ResponseWriter, r *http.Request, x *exchange) bool {
	x.reqv = apiRequest{n: 1}
	f, e := g.readForm(w, r, x.ep, &x.reqv)
	if e != nil {
		g.fail(w, x.res, e)
		return false
	}
	x.form = f
	req := &x.reqv
	req.model, req.fallbacks, req.stream = f.model, f.fallbacks, f.stream
	if req.model == "" && len(req.fallbacks) > 0 {
		req.model, req.fallbacks = req.fallbacks[0], req.fallbacks[1:]
	}
	if req.model == "" {
		if g.cfg.DefaultModel == "" {
			f.close()
			g.fail(w, x.res, transform.InvalidRequest("model", "model is required: add a model form field such as 'openai/whisper-1'"))
			return false
		}
		req.model = g.cfg.DefaultModel
	}
	if len(f.head) == 0 && f.next == nil {
		f.close()
		g.fail(w, x.res, transform.InvalidRequest("", "the form has no fields besides the model: send the file and the other fields as form parts"))
		return false
	}
	x.req = req
	return true
}

// readError is the client's error when an attempt failed because the client's streamed body could not be
// read (too large, malformed, cut); nil otherwise or for a JSON request.
func (f *form) readError(g *Gateway) *transform.Error {
	if f == nil || f.clientErr == nil {
		return nil
	}
	e := g.formError(f.clientErr)
	if !errors.Is(f.clientErr, io.ErrUnexpectedEOF) {
		return e
	}
	return transform.InvalidRequest("", "the multipart body ended before its closing boundary")
}
