package gateway

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/aibackend/caddy-ai-gateway/transform"
	"github.com/aibackend/caddy-ai-gateway/usage"
)

// maxImages is the largest n of an image request (OpenAI's limit).
const maxImages = 10

// imagesField validates an image generation request's own fields.
func imagesField(_ *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	switch key {
	case "prompt":
		req.required++
		if v.Type != gjson.String || v.Str == "" {
			return transform.InvalidRequest("prompt", "prompt must be a non-empty string")
		}
	case "n":
		return imageCount(req, v.Type == gjson.Null, v.Raw)
	case "size", "quality":
		if v.Type != gjson.Null && v.Type != gjson.String {
			return transform.InvalidRequest(key, key+" must be a string")
		}
		setImageOption(req, key, v.Str)
	case "partial_images":
		if n, ok := intValue(v); v.Type != gjson.Null && (!ok || n < 0 || n > 3) {
			return transform.InvalidRequest(key, "partial_images must be an integer from 0 to 3")
		}
	case "response_format":
		if v.Type != gjson.Null && v.Str != "url" && v.Str != "b64_json" {
			return transform.InvalidRequest(key, `response_format must be "url" or "b64_json"`)
		}
	}
	return nil
}

// imagesFormField validates an image edit's text fields.
func imagesFormField(req *apiRequest, name, value string) *transform.Error {
	switch name {
	case "n":
		return imageCount(req, false, value)
	case "size", "quality":
		setImageOption(req, name, value)
	case "stream":
	}
	return nil
}

func imageCount(req *apiRequest, null bool, raw string) *transform.Error {
	if null {
		return nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxImages {
		return transform.InvalidRequest("n", fmt.Sprintf("n must be an integer from 1 to %d (the number of images)", maxImages))
	}
	req.n = n
	return nil
}

// setImageOption keeps the size or quality that prices the images: only the values of a short list of
// plain tokens, as they become part of a price lookup and of logs.
func setImageOption(req *apiRequest, key, v string) {
	if len(v) > 16 || strings.ContainsFunc(v, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == 'x')
	}) {
		return
	}
	if key == "size" {
		req.imageSize = v
	} else {
		req.imageQuality = v
	}
}

// imageUnits are the images a request asks for.
func imageUnits(req *apiRequest, u *usage.Usage) {
	if u.Images == 0 {
		u.Images = req.n
	}
	if u.ImageSize == "" {
		u.ImageSize = req.imageSize
	}
	if u.ImageQuality == "" {
		u.ImageQuality = req.imageQuality
	}
}

// speechField validates a speech request's own fields.
func speechField(_ *Gateway, req *apiRequest, key string, v gjson.Result) *transform.Error {
	switch key {
	case "input":
		req.required++
		if v.Type != gjson.String || v.Str == "" {
			return transform.InvalidRequest("input", "input must be a non-empty string (the text to speak)")
		}
		req.characters = utf8.RuneCountInString(v.Str)
	case "voice":
		if v.Type != gjson.String && !v.IsObject() {
			return transform.InvalidRequest("voice", "voice must be a voice name such as 'alloy', or an object with an id")
		}
	case "speed":
		return numberIn(v, key, 0.25, 4)
	case "response_format":
		if v.Type != gjson.Null && v.Type != gjson.String {
			return transform.InvalidRequest(key, "response_format must be one of mp3, opus, aac, flac, wav or pcm")
		}
	case "stream_format":
		switch {
		case v.Type == gjson.Null, v.Str == "audio":
		case v.Str == "sse":
			req.stream = true
		default:
			return transform.InvalidRequest(key, `stream_format must be "audio" or "sse"`)
		}
	}
	return nil
}

// speechUnits are the characters a speech request asks to speak.
func speechUnits(req *apiRequest, u *usage.Usage) {
	u.Characters = req.characters
}

// transcriptionFormField validates a transcription's or translation's text fields.
func transcriptionFormField(_ *apiRequest, name, value string) *transform.Error {
	if name == "temperature" {
		if f, err := strconv.ParseFloat(value, 64); err != nil || f < 0 || f > 1 {
			return transform.InvalidRequest("temperature", "temperature must be a number from 0 to 1")
		}
	}
	return nil
}

// noPrompt counts no prompt tokens: a multipart request's text is not in Request.Body.
func noPrompt(*usage.Tokenizer, string, []byte) int { return 0 }
