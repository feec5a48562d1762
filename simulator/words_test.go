package simulator

import (
	"testing"

	"github.com/tiktoken-go/tokenizer"
)

// TestAnswersAreExactTokenCounts checks the claim usage rests on: an answer of n words is n o200k_base tokens.
func TestAnswersAreExactTokenCounts(t *testing.T) {
	enc, err := tokenizer.Get(tokenizer.O200kBase)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 7, len(words), len(words) + 1, 500} {
		got, err := enc.Count(storyWords(n))
		if err != nil {
			t.Fatal(err)
		}
		if got != n {
			t.Errorf("%d words are %d tokens", n, got)
		}
	}
	// Chunks are counted on their own too, as a gateway counting streamed deltas would.
	for i := 1; i < len(words)+2; i++ {
		if got, _ := enc.Count(string(appendWords(nil, i, 1))); got != 1 {
			t.Errorf("chunk %q is %d tokens", appendWords(nil, i, 1), got)
		}
	}
	// Every choice after the first opens with a bare word too.
	for c := 1; c < 16; c++ {
		text := string(appendWordsShifted(nil, c*choiceShift, 0, 30))
		if got, _ := enc.Count(text); got != 30 {
			t.Errorf("choice %d: %q is %d tokens", c, text, got)
		}
	}
}
