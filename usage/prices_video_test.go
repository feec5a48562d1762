package usage

import "testing"

func TestVideoPricesPerSecondBySize(t *testing.T) {
	table, err := NewPriceTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		model   string
		seconds int
		size    string
		want    float64
	}{
		{"openai/sora-2", 4, "720x1280", 0.40},
		{"openai/sora-2-pro", 4, "1280x720", 1.20},
		{"openai/sora-2-pro", 4, "1792x1024", 2.00},
		{"google/veo-3.1-generate-preview", 8, "1280x720", 3.20},
		{"google/veo-3.1-generate-001", 8, "1920x1080", 3.20},
		{"google/veo-3.1-generate-preview", 8, "3840x2160", 4.80},
		{"google/veo-3.1-fast-generate-preview", 8, "1280x720", 1.20},
	} {
		usd, ok := table.Cost(c.model, Usage{VideoSeconds: c.seconds, VideoSize: c.size})
		if !ok || usd < c.want-1e-9 || usd > c.want+1e-9 {
			t.Errorf("%s, %d s of %s: %v, %v; want %v", c.model, c.seconds, c.size, usd, ok, c.want)
		}
	}
	// an operator's rule comes first
	table, _ = NewPriceTable([]PriceRule{{Pattern: "openai/sora-2", Price: Price{PerVideoSecond: 1}}})
	if usd, _ := table.Cost("openai/sora-2", Usage{VideoSeconds: 4}); usd != 4 {
		t.Errorf("an operator's price: %v, want 4", usd)
	}
	if _, err := NewPriceTable([]PriceRule{{Pattern: "x/*", Price: Price{PerVideoSecond: -1}}}); err == nil {
		t.Error("a negative price per second was accepted")
	}
}
