package parser

import (
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// kaLine is the participle grammar of one keepalived logical line, after
// the line-level preprocessing (comments, @conditionals, $definitions,
// ~SEQ/~LST, include, brace splitting) that keepalived does before it
// splits a line into words (lib/parser.c alloc_strvec): words are separated
// by whitespace; a double quote starts a word that runs to the next double
// quote, whitespace included; a bare word also ends where a double quote
// starts. Single quotes are ordinary characters at this level (scripts
// re-read them later, see SplitScript).
type kaLine struct {
	Words []*kaWord `parser:"@@*"`
}

type kaWord struct {
	Pos     lexer.Position
	Quoted  *string `parser:"  @Quoted"`
	Bare    *string `parser:"| @Bare"`
	Unended *string `parser:"| @Unended"`
}

var kaLexer = lexer.MustSimple([]lexer.SimpleRule{
	{Name: "Quoted", Pattern: `"[^"]*"`},
	{Name: "Unended", Pattern: `"[^"]*`},
	{Name: "Bare", Pattern: `[^ \t\f\n\r\v"]+`},
	{Name: "Space", Pattern: `[ \t\f\n\r\v]+`},
})

var kaLineParser = participle.MustBuild[kaLine](
	participle.Lexer(kaLexer),
	participle.Elide("Space"),
)

// splitKaWords splits text into words. col is the 1-based column of
// text[0] in the source line. unended reports a double quote without its
// closing partner (keepalived keeps the text up to the end of the line).
func splitKaWords(text string, pos Pos) (words []Word, unended bool) {
	if strings.IndexByte(text, '"') < 0 {
		// Without a double quote the grammar is whitespace-separated bare
		// words: split here, without the parser's per-line allocations (a
		// ~SEQ can generate a million lines; TestSplitKaWordsFastPath
		// checks this against the grammar).
		return splitBare(text, pos), false
	}
	ln, err := kaLineParser.ParseString(pos.File, text)
	if err != nil {
		// The lexer accepts every byte sequence, so this cannot happen;
		// fall back to whitespace splitting rather than lose the line.
		for _, f := range strings.Fields(text) {
			words = append(words, Word{Pos: pos, Value: f, Raw: f})
		}
		return words, false
	}
	for _, w := range ln.Words {
		p := Pos{File: pos.File, Line: pos.Line, Col: pos.Col + w.Pos.Offset}
		switch {
		case w.Quoted != nil:
			q := *w.Quoted
			words = append(words, Word{Pos: p, Value: q[1 : len(q)-1], Raw: q, Quoted: true})
		case w.Unended != nil:
			q := *w.Unended
			words = append(words, Word{Pos: p, Value: q[1:], Raw: q, Quoted: true})
			unended = true
		default:
			words = append(words, Word{Pos: p, Value: *w.Bare, Raw: *w.Bare})
		}
	}
	return words, unended
}

// kaSpace is the grammar's Space class.
func kaSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\f' || c == '\n' || c == '\r' || c == '\v'
}

// splitBare splits a line without double quotes into its Bare words.
func splitBare(text string, pos Pos) []Word {
	n := 0
	for i := 0; i < len(text); {
		for i < len(text) && kaSpace(text[i]) {
			i++
		}
		if i < len(text) {
			n++
		}
		for i < len(text) && !kaSpace(text[i]) {
			i++
		}
	}
	if n == 0 {
		return nil
	}
	words := make([]Word, 0, n)
	for i := 0; i < len(text); {
		for i < len(text) && kaSpace(text[i]) {
			i++
		}
		start := i
		for i < len(text) && !kaSpace(text[i]) {
			i++
		}
		if i > start {
			w := text[start:i]
			words = append(words, Word{Pos: Pos{File: pos.File, Line: pos.Line, Col: pos.Col + start}, Value: w, Raw: w})
		}
	}
	return words
}
