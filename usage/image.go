package usage

import (
	"encoding/base64"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"strings"

	"github.com/tidwall/gjson"
)

// Image token rules of OpenAI's gpt-4o vision pricing: detail "low" costs a flat 85 tokens; otherwise the
// image is scaled to fit 2048×2048, then so that its short side is at most 768, and costs 85 plus 170 per
// 512-pixel tile.
const (
	imageBaseTokens = 85
	imageTileTokens = 170
	imageTileSide   = 512
	// unknownImageTokens is the estimate for an image whose size is not known without fetching it (an http
	// URL, or a data URL that is not PNG, JPEG or GIF): a 1024×1024 image at high detail, 4 tiles.
	unknownImageTokens = imageBaseTokens + 4*imageTileTokens
)

// imageTokens estimates an image_url content part ({"url": ..., "detail": ...}). Only the header of a data
// URL is decoded, to learn its size.
func imageTokens(img gjson.Result) int {
	if img.Get("detail").String() == "low" {
		return imageBaseTokens
	}
	w, h, ok := dataURLImageSize(img.Get("url").String())
	if !ok {
		return unknownImageTokens
	}
	return tileTokens(w, h)
}

// tileTokens applies the tile rule to a w×h image.
func tileTokens(w, h int) int {
	if w <= 0 || h <= 0 {
		return unknownImageTokens
	}
	fw, fh := float64(w), float64(h)
	if fw > 2048 || fh > 2048 {
		s := 2048 / max(fw, fh)
		fw, fh = fw*s, fh*s
	}
	if short := min(fw, fh); short > 768 {
		s := 768 / short
		fw, fh = fw*s, fh*s
	}
	tiles := ceilDiv(int(fw+0.5), imageTileSide) * ceilDiv(int(fh+0.5), imageTileSide)
	return imageBaseTokens + imageTileTokens*tiles
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// dataURLImageSize reads the dimensions of a base64 PNG, JPEG or GIF data URL from its header.
func dataURLImageSize(url string) (w, h int, ok bool) {
	rest, found := strings.CutPrefix(url, "data:")
	if !found {
		return 0, 0, false
	}
	meta, data, found := strings.Cut(rest, ",")
	if !found || !strings.HasSuffix(meta, ";base64") {
		return 0, 0, false
	}
	var decode func(io.Reader) (image.Config, error)
	switch strings.TrimSuffix(meta, ";base64") {
	case "image/png":
		decode = png.DecodeConfig
	case "image/jpeg", "image/jpg":
		decode = jpeg.DecodeConfig
	case "image/gif":
		decode = gif.DecodeConfig
	default:
		return 0, 0, false
	}
	cfg, err := decode(base64.NewDecoder(base64.StdEncoding, strings.NewReader(data)))
	if err != nil {
		return 0, 0, false
	}
	return cfg.Width, cfg.Height, true
}
