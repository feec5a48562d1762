package gateway

import (
	"net/http"
	"slices"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/router"
	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// Endpoint is what a request path asks for.
type Endpoint uint8

// Endpoints the gateway serves.
const (
	NotOurs Endpoint = iota
	ChatCompletions
	ListModels
	GetModel
	Embeddings
	Completions
	Moderations
	Rerank
	ImageGenerations
	ImageEdits
	Speech
	Transcriptions
	Translations
	Videos       // POST …/videos creates a job; GET …/videos lists them (video.go)
	Video        // GET or DELETE …/videos/{id}
	VideoContent // GET …/videos/{id}/content
	Responses
	// Response is a stored response of the Responses API: GET or DELETE …/responses/{id}, GET
	// …/responses/{id}/input_items, POST …/responses/{id}/cancel.
	Response
	// Messages is Anthropic's Messages API, POST …/messages; MessagesCountTokens its …/messages/count_tokens.
	Messages
	MessagesCountTokens
	OpenAPIDocument
	DocsPage
	endpointCount
)

// endpointNames are the endpoints' fixed names, for metrics labels, placeholders and logs.
var endpointNames = [endpointCount]string{"", "chat_completions", "models", "model", "embeddings", "completions",
	"moderations", "rerank", "images_generations", "images_edits", "audio_speech", "audio_transcriptions",
	"audio_translations", "videos", "video", "video_content", "responses", "response", "messages",
	"messages_count_tokens", "openapi", "docs"}

// String is the endpoint's fixed name ("chat_completions", "embeddings", ...); empty for NotOurs.
func (e Endpoint) String() string {
	if e >= endpointCount {
		return ""
	}
	return endpointNames[e]
}

// Route says which endpoint a request is for, from the end of its path, so the gateway works under any prefix
// (/v1, /api/v1, ...). Requests for anything else are NotOurs.
func Route(r *http.Request) Endpoint { return route(r.URL.Path) }

// route matches the path against each endpoint's suffix; chat/completions is tried before completions.
func route(p string) Endpoint {
	for i := range endpoints {
		e := &endpoints[i]
		if e.suffix != "" && strings.HasSuffix(p, e.suffix) {
			return e.id
		}
	}
	if ep := routeVideo(p); ep != NotOurs {
		return ep
	}
	switch {
	case strings.HasSuffix(p, "/models"):
		return ListModels
	case strings.Contains(p, "/models/"):
		return GetModel
	case strings.HasSuffix(p, "/openapi.json"), strings.HasSuffix(p, "/openapi.yaml"):
		return OpenAPIDocument
	case docsAsset(p) != "":
		return DocsPage
	case strings.Contains(p, "/responses/"):
		return Response
	}
	return NotOurs
}

// Route is the package's Route for this gateway's configuration: pages the configuration leaves off (the
// "Try it" page without Config.DocsPage) are NotOurs.
func (g *Gateway) Route(r *http.Request) Endpoint {
	ep := route(r.URL.Path)
	if ep == DocsPage && !g.cfg.DocsPage {
		return NotOurs
	}
	return ep
}

// modelIn says where a request carries its model name.
type modelIn uint8

const (
	// modelInJSON: a top-level string field of a JSON body (endpoint.modelField).
	modelInJSON modelIn = iota
	// modelInMultipart: the "model" field of a multipart/form-data body, which is read only as far as the
	// model and then streamed upstream (form.go). Its size limit is Config.MaxUploadBody, not MaxRequestBody.
	modelInMultipart
	// modelInJSONOrForm: modelInMultipart for a multipart/form-data request, modelInJSON for any other (video
	// jobs: the SDKs send a form, curl users often JSON). The whole form is read before routing, its files
	// spooled: the job's length and size, which price it, may follow its reference image.
	modelInJSONOrForm
	// Later: modelInPath (a path segment).
)

// answerKind says what a successful upstream answer may be.
type answerKind uint8

const (
	// answerJSON: a JSON object translated by dialectOps.translate, or a stream of chunks (stream.go).
	answerJSON answerKind = iota
	// answerMedia: whatever the upstream's Content-Type says (media.go): JSON, translated whole by
	// dialectOps.media (which may turn it into other bytes, e.g. audio); a text/event-stream of OpenAI's named
	// media events (image_generation.*, speech.audio.*, transcript.text.*), relayed event by event; or any
	// other bytes (audio, a text transcript), relayed as they arrive, flushed after each read.
	answerMedia
)

// usageInBody says how the gateway writes usage it counted into an answer that had none.
type usageInBody uint8

const (
	usageNone       usageInBody = iota // the answer has no usage object (moderations, rerank)
	usageFull                          // prompt, completion and total tokens with details (chat, completions)
	usagePromptOnly                    // prompt_tokens and total_tokens (embeddings)
	usageSurface                       // the surface's own usage object (surface.setUsage)
)

// endpoint describes one JSON API endpoint. Everything else (authentication, routes, fallbacks, retries,
// cooldowns, limits, budgets, pricing, metrics, placeholders, logs and the answer's headers) is shared by all
// endpoints and written once, in chat.go, accounting.go and stream.go.
type endpoint struct {
	id Endpoint
	// suffix is the path suffix that selects the endpoint; listed (without its slash) in GET /models.
	suffix string
	// methods is the Allow header for other methods; the first is the only one accepted.
	methods string
	// model is where the request names its model; modelField the JSON field for modelInJSON.
	model      modelIn
	modelField string
	// required are the body fields a request must have, besides the model.
	required []string
	// field validates one endpoint-specific top-level field and records what the gateway needs from it.
	field func(g *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error
	// streams is set when the API streams (stream: true) as server-sent events.
	streams bool
	// chunkObject is the object of the stream's chunks, for the usage chunk the gateway writes.
	chunkObject string
	// generates is set when the answer has completion tokens: limits reserve n × max_tokens for them.
	generates bool
	// prompt counts a request's input tokens locally, for limits and for answers without usage.
	prompt func(t *usage.Tokenizer, model string, body []byte) int
	// completion counts an answer's output tokens locally when the upstream reported no usage; nil: none.
	completion func(t *usage.Tokenizer, model string, body []byte) (completion, reasoning int)
	// usage is how counted usage is written into an answer that had none.
	usage usageInBody
	// ops returns the dialect's implementation of the endpoint, nil when it has none. It is asked once per
	// provider, when the gateway is built. A surface's endpoint has none: see surface.
	ops func(d transform.Dialect) *dialectOps
	// own rewrites a translated answer that is a resource held by the target t (a video job: its id names t,
	// video.go); model is the client's model name. nil: answers are kept as translated.
	own func(t router.Target, model string, body []byte) []byte
	// answers is what a successful answer may be (answerJSON unless set).
	answers answerKind
	// formField validates one text field of a multipart request (model, models and stream are the
	// engine's); nil: none.
	formField func(req *apiRequest, name, value string) *transform.Error
	// units are the media units a request asks for (images, characters), for limits and pricing before the
	// answer says more; nil: none.
	units func(req *apiRequest, u *usage.Usage)
	// surface, when set, makes the endpoint a client API that every dialect serves: natively where the
	// dialect implements it, else through its chat completions (see surface in surface.go).
	surface *surface
}

// dialectOps is one dialect's implementation of one endpoint.
type dialectOps struct {
	build     func(*transform.Request) (*transform.Outgoing, error)
	translate func(*transform.Request, []byte) ([]byte, usage.Usage, error)
	stream    func(*transform.Request) transform.StreamTranslator
	// media translates a JSON answer of an answerMedia endpoint into the client's bytes and their
	// Content-Type.
	media func(*transform.Request, []byte) ([]byte, string, usage.Usage, error)
	// native is set for a surface the dialect serves itself: its stream translator relays the surface's own
	// events (to an EventSink). A surface served through chat has native false: its translator yields chat
	// chunks, which a transform.SurfaceStream turns into the surface's events.
	native bool
	// translateError, when set, replaces the dialect's TranslateError (a native surface keeping the
	// upstream's error body).
	translateError func(status int, h http.Header, body []byte) *transform.Error
	// local, when set, answers without an upstream (the gateway's own count_tokens): the answer body.
	local func(*transform.Request) ([]byte, error)
	// forModel, when set, holds no implementation itself: it returns the one for the target's upstream model
	// (a surface served natively for some models of a dialect only, as the Messages API for Claude on
	// Bedrock).
	forModel func(model string) *dialectOps
}

// endpoints are the endpoints served through the engine, in the order Route tries their suffixes: the JSON
// ones, then the media ones, then video jobs.
var endpoints = append(append(jsonEndpoints[:len(jsonEndpoints):len(jsonEndpoints)], mediaEndpoints[:]...),
	videoEndpoints[:]...)

// jsonEndpoints are the endpoints whose requests and answers are JSON.
var jsonEndpoints = [...]endpoint{
	{
		id: ChatCompletions, suffix: "/chat/completions", methods: "POST", modelField: "model",
		required: []string{"messages"}, field: chatField, streams: true, chunkObject: "chat.completion.chunk",
		generates: true, prompt: (*usage.Tokenizer).CountPrompt, completion: (*usage.Tokenizer).CountResponse,
		usage: usageFull,
		ops: func(d transform.Dialect) *dialectOps {
			return &dialectOps{build: d.BuildRequest, translate: d.TranslateResponse, stream: d.NewStream}
		},
	},
	{
		id: Completions, suffix: "/completions", methods: "POST", modelField: "model",
		required: []string{"prompt"}, field: completionsField, streams: true, chunkObject: "text_completion",
		generates: true, prompt: countField("prompt"), completion: countCompletionText, usage: usageFull,
		ops: func(d transform.Dialect) *dialectOps {
			if c, ok := d.(transform.CompletionsDialect); ok {
				return &dialectOps{build: c.BuildCompletions, translate: c.TranslateCompletions, stream: c.NewCompletionsStream}
			}
			return nil
		},
	},
	{
		id: Embeddings, suffix: "/embeddings", methods: "POST", modelField: "model",
		required: []string{"input"}, field: embeddingsField, prompt: countField("input"), usage: usagePromptOnly,
		ops: func(d transform.Dialect) *dialectOps {
			if e, ok := d.(transform.EmbeddingsDialect); ok {
				return &dialectOps{build: e.BuildEmbeddings, translate: e.TranslateEmbeddings}
			}
			return nil
		},
	},
	{
		id: Moderations, suffix: "/moderations", methods: "POST", modelField: "model",
		required: []string{"input"}, field: moderationsField, prompt: countField("input"),
		ops: func(d transform.Dialect) *dialectOps {
			if m, ok := d.(transform.ModerationsDialect); ok {
				return &dialectOps{build: m.BuildModerations, translate: m.TranslateModerations}
			}
			return nil
		},
	},
	{
		id: Responses, suffix: "/responses", methods: "POST", modelField: "model", field: responsesField,
		streams: true, generates: true, prompt: countResponsesPrompt, completion: countResponsesOutput,
		usage: usageSurface, surface: responsesSurface,
	},
	{
		id: Messages, suffix: "/messages", methods: "POST", modelField: "model", required: []string{"messages", "max_tokens"},
		field: messagesField, streams: true, generates: true, prompt: countMessagesPrompt,
		completion: countMessagesOutput, usage: usageSurface, surface: messagesSurface,
	},
	{
		id: MessagesCountTokens, suffix: "/messages/count_tokens", methods: "POST", modelField: "model",
		required: []string{"messages"}, field: countTokensField, prompt: countMessagesPrompt, surface: countTokensSurface,
	},
	{
		id: Rerank, suffix: "/rerank", methods: "POST", modelField: "model",
		required: []string{"query", "documents"}, field: rerankField, prompt: countRerank,
		ops: func(d transform.Dialect) *dialectOps {
			if rr, ok := d.(transform.RerankDialect); ok {
				return &dialectOps{build: rr.BuildRerank, translate: rr.TranslateRerank}
			}
			return nil
		},
	},
}

// mediaEndpoints are the image and audio endpoints (endpoints continues with them).
var mediaEndpoints = [...]endpoint{
	{
		id: ImageGenerations, suffix: "/images/generations", methods: "POST", modelField: "model",
		required: []string{"prompt"}, field: imagesField, streams: true, prompt: countField("prompt"),
		answers: answerMedia, units: imageUnits,
		ops: func(d transform.Dialect) *dialectOps {
			if m, ok := d.(transform.ImagesDialect); ok {
				return &dialectOps{build: m.BuildImages, media: m.TranslateImages}
			}
			return nil
		},
	},
	{
		id: ImageEdits, suffix: "/images/edits", methods: "POST", model: modelInMultipart, modelField: "model",
		formField: imagesFormField, prompt: noPrompt, answers: answerMedia, units: imageUnits,
		ops: func(d transform.Dialect) *dialectOps {
			if m, ok := d.(transform.ImageEditsDialect); ok {
				return &dialectOps{build: m.BuildImageEdits, media: m.TranslateImageEdits}
			}
			return nil
		},
	},
	{
		id: Speech, suffix: "/audio/speech", methods: "POST", modelField: "model",
		required: []string{"input"}, field: speechField, prompt: countField("input"), answers: answerMedia,
		units: speechUnits,
		ops: func(d transform.Dialect) *dialectOps {
			if m, ok := d.(transform.SpeechDialect); ok {
				return &dialectOps{build: m.BuildSpeech, media: m.TranslateSpeech}
			}
			return nil
		},
	},
	{
		id: Transcriptions, suffix: "/audio/transcriptions", methods: "POST", model: modelInMultipart,
		modelField: "model", formField: transcriptionFormField, prompt: noPrompt, answers: answerMedia,
		ops: func(d transform.Dialect) *dialectOps {
			if m, ok := d.(transform.TranscriptionsDialect); ok {
				return &dialectOps{build: func(r *transform.Request) (*transform.Outgoing, error) {
					return m.BuildTranscriptions(r, false)
				}, media: m.TranslateTranscriptions}
			}
			return nil
		},
	},
	{
		id: Translations, suffix: "/audio/translations", methods: "POST", model: modelInMultipart,
		modelField: "model", formField: transcriptionFormField, prompt: noPrompt, answers: answerMedia,
		ops: func(d transform.Dialect) *dialectOps {
			if m, ok := d.(transform.TranscriptionsDialect); ok {
				return &dialectOps{build: func(r *transform.Request) (*transform.Outgoing, error) {
					return m.BuildTranscriptions(r, true)
				}, media: m.TranslateTranscriptions}
			}
			return nil
		},
	},
}

// readsForm reports whether r's body is a multipart form that the engine streams upstream (else it is JSON).
func (e *endpoint) readsForm(r *http.Request) bool {
	switch e.model {
	case modelInMultipart:
		return true
	case modelInJSONOrForm:
		return isMultipart(r)
	case modelInJSON:
	}
	return false
}

// endpointByID is the description of each endpoint served through the engine; nil for the others.
var endpointByID = func() (m [endpointCount]*endpoint) {
	for i := range endpoints {
		m[endpoints[i].id] = &endpoints[i]
	}
	return m
}()

// countField counts the text of a top-level field: a string, strings, token-id arrays (one token each) or
// objects with a "text" member (multimodal moderation input; other parts are not counted).
func countField(name string) func(t *usage.Tokenizer, model string, body []byte) int {
	return func(t *usage.Tokenizer, model string, body []byte) int {
		return countInput(t, model, gjson.GetBytes(body, name))
	}
}

func countInput(t *usage.Tokenizer, model string, v gjson.Result) int {
	switch {
	case v.Type == gjson.String:
		return t.Count(model, v.Str)
	case v.Type == gjson.Number:
		return 1
	case v.IsArray():
		n := 0
		v.ForEach(func(_, e gjson.Result) bool {
			n += countInput(t, model, e)
			return true
		})
		return n
	case v.IsObject():
		if text := v.Get("text"); text.Type == gjson.String {
			return t.Count(model, text.Str)
		}
	}
	return 0
}

// countRerank counts a rerank request's query and documents.
func countRerank(t *usage.Tokenizer, model string, body []byte) int {
	root := gjson.ParseBytes(body)
	return countInput(t, model, root.Get("query")) + countInput(t, model, root.Get("documents"))
}

// countCompletionText counts the text of a text_completion answer's choices.
func countCompletionText(t *usage.Tokenizer, model string, body []byte) (int, int) {
	n := 0
	gjson.GetBytes(body, "choices").ForEach(func(_, c gjson.Result) bool {
		n += t.Count(model, c.Get("text").String())
		return true
	})
	return n, 0
}

// unsupported returns the 400 unsupported_endpoint for a request none of whose targets (those of its model
// and of its fallbacks) can serve ep, naming their providers; nil when one can.
func (g *Gateway) unsupported(ep *endpoint, req *apiRequest) *transform.Error {
	var names []string
	served := false
	g.eachTarget(req, func(t router.Target) bool {
		if g.providers[t.Provider].ops[ep.id] != nil {
			served = true
			return false
		}
		if !slices.Contains(names, t.Provider) {
			names = append(names, t.Provider)
		}
		return true
	})
	if served || len(names) == 0 {
		return nil
	}
	return transform.NewError(http.StatusBadRequest, "invalid_request_error", "unsupported_endpoint",
		"provider '"+strings.Join(names, "', '")+"' does not serve "+ep.suffix[1:]+
			": route the model to a provider that does (GET /v1/models lists each model's endpoints)")
}

// eachTarget calls f with every target of the request's model and then of each of its fallbacks (names that
// do not resolve are skipped) until f returns false.
func (g *Gateway) eachTarget(req *apiRequest, f func(router.Target) bool) {
	for i := -1; i < len(req.fallbacks); i++ {
		model := req.model
		if i >= 0 {
			model = req.fallbacks[i]
		}
		targets, err := g.router.Resolve(model)
		if err != nil {
			continue
		}
		for _, t := range targets {
			if !f(t) {
				return
			}
		}
	}
}
