package simulator

// words make up every simulated answer. Each is exactly one o200k_base token with its leading space, and the
// first, which opens every answer bare, is one token without it too, so an answer of n words is exactly n
// tokens (checked with github.com/tiktoken-go/tokenizer v0.10.0 for n up to 500). They are plain lowercase ASCII: they need no JSON escaping.
var words = [...]string{
	"the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "and", "a", "small", "river", "runs",
	"through", "green", "valley", "where", "old", "trees", "stand", "near", "quiet", "stone", "houses",
	"under", "bright", "blue", "sky", "while", "children", "play", "with", "red", "ball", "in", "warm",
	"summer", "light", "every", "morning", "birds", "sing", "from", "tall", "branches", "as", "people",
	"walk", "to", "work", "along", "narrow", "paths", "beside", "fresh", "water", "that", "flows", "toward",
	"distant", "hills", "beyond", "long", "open", "fields", "full", "of", "yellow", "flowers",
}

// appendWords appends words number from to from+n-1 of the answer: the first word of the answer bare, every
// other word with its leading space.
func appendWords(dst []byte, from, n int) []byte {
	for i := from; i < from+n; i++ {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, words[i%len(words)]...)
	}
	return dst
}

// choiceShift is how many words further in the list the words after the first of each choice after the
// first are taken, so that the n choices of an answer differ. Every choice opens with the first word, bare.
const choiceShift = 10

// appendWordsShifted is appendWords for an answer whose words after the first are taken shift words further
// in the list.
func appendWordsShifted(dst []byte, shift, from, n int) []byte {
	if shift == 0 {
		return appendWords(dst, from, n)
	}
	for i := from; i < from+n; i++ {
		if i == 0 {
			dst = append(dst, words[0]...)
			continue
		}
		dst = append(dst, ' ')
		dst = append(dst, words[(i+shift)%len(words)]...)
	}
	return dst
}

// thinkingWords make up every simulated thinking (reasoning) text.
var thinkingWords = [...]string{
	"the", "user", "asks", "a", "question", "so", "i", "will", "think", "it", "through", "step", "by", "step",
	"then", "answer", "briefly", "and", "clearly", "with", "the", "main", "point", "first",
}
