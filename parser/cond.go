package parser

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Condition is an ACL condition: `if|unless TERM… [|| TERM…]…`
// (configuration.txt 7.2). Or holds the OR of ANDs of terms.
type Condition struct {
	Pos    Pos
	Unless bool
	Or     [][]CondTerm
}

// CondTerm is one term: a named ACL, or an anonymous ACL written between
// braces, possibly negated.
type CondTerm struct {
	Pos  Pos
	Neg  bool
	Name string // named ACL; empty for an anonymous one
	Anon []Word // the words between { and }
}

// The condition grammar runs over words already split by the line
// tokenizer, so its lexer turns each word into one token (and a leading
// "!" into negations, as HAProxy's build_acl_cond() strips them).
type condAST struct {
	Kw string    `parser:"@Kw"`
	Or []*andAST `parser:"@@ ( Or @@ )*"`
}

type andAST struct {
	Terms []*termAST `parser:"@@+"`
}

type termAST struct {
	Pos   lexer.Position
	Not   []string  `parser:"@Not*"`
	Brace *braceAST `parser:"( @@"`
	Name  string    `parser:"| @Word )"`
}

type braceAST struct {
	Words []string `parser:"LBrace @Word+ RBrace"`
}

const (
	tokKw lexer.TokenType = -(iota + 2)
	tokOr
	tokNot
	tokLBrace
	tokRBrace
	tokWord
)

type condLexDef struct{}

func (condLexDef) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF": lexer.EOF, "Kw": tokKw, "Or": tokOr, "Not": tokNot,
		"LBrace": tokLBrace, "RBrace": tokRBrace, "Word": tokWord,
	}
}

func (condLexDef) Lex(string, io.Reader) (lexer.Lexer, error) {
	return nil, errors.New("condition lexer works on words only")
}

// condLexer emits tokens for a word list; Position.Offset is the index of
// the word the token came from.
type condLexer struct {
	toks []lexer.Token
	i    int
}

func (l *condLexer) Next() (lexer.Token, error) {
	if l.i >= len(l.toks) {
		return lexer.EOFToken(lexer.Position{Offset: -1}), nil
	}
	t := l.toks[l.i]
	l.i++
	return t, nil
}

func lexCondWords(words []Word) *condLexer {
	l := &condLexer{}
	add := func(tt lexer.TokenType, v string, idx int) {
		l.toks = append(l.toks, lexer.Token{Type: tt, Value: v, Pos: lexer.Position{Offset: idx, Line: 1, Column: idx + 1}})
	}
	depth := 0
	for i, w := range words {
		v := w.Value
		if i == 0 {
			add(tokKw, v, i)
			continue
		}
		if depth > 0 {
			if v == "}" {
				depth--
				add(tokRBrace, v, i)
			} else {
				add(tokWord, v, i)
			}
			continue
		}
		for strings.HasPrefix(v, "!") {
			add(tokNot, "!", i)
			v = v[1:]
		}
		switch {
		case v == "":
		case v == "||" || v == "or":
			add(tokOr, v, i)
		case v == "{":
			depth++
			add(tokLBrace, v, i)
		case v == "}":
			add(tokRBrace, v, i)
		default:
			add(tokWord, v, i)
		}
	}
	return l
}

var aclCondParser = participle.MustBuild[condAST](participle.Lexer(condLexDef{}), participle.UseLookahead(2))

// ParseCondition parses words starting at "if" or "unless". The error names
// the problem in HAProxy's terms; its position is the offending word's.
func ParseCondition(words []Word) (*Condition, error) {
	if len(words) == 0 || (words[0].Value != "if" && words[0].Value != "unless") {
		return nil, errors.New("condition must start with 'if' or 'unless'")
	}
	if len(words) == 1 {
		// HAProxy 2.6 takes "if" or "unless" with nothing after it: a
		// condition without terms, never true ("if") or always true
		// ("unless"), which is what an empty Or evaluates to.
		return &Condition{Pos: words[0].Pos, Unless: words[0].Value == "unless"}, nil
	}
	depth := 0
	for _, w := range words[1:] {
		switch strings.TrimLeft(w.Value, "!") {
		case "{":
			if depth == 0 {
				depth++
			}
		case "}":
			if depth == 0 {
				return nil, fmt.Errorf("unexpected '}' in condition")
			}
			depth--
		}
	}
	if depth != 0 {
		return nil, errors.New("missing closing '}' in condition")
	}
	if depth == 0 && !hasBrace(words) {
		if c, ok := parseNamedCondition(words); ok {
			return c, nil
		}
	}
	pl, err := lexer.Upgrade(lexCondWords(words))
	if err != nil {
		return nil, err
	}
	ast, err := aclCondParser.ParseFromLexer(pl)
	if err != nil {
		var pe participle.Error
		if errors.As(err, &pe) {
			idx := pe.Position().Offset
			if idx >= 0 && idx < len(words) {
				return nil, fmt.Errorf("unexpected '%s' in condition", words[idx].Value)
			}
			return nil, errors.New("incomplete condition")
		}
		return nil, err
	}
	c := &Condition{Pos: words[0].Pos, Unless: ast.Kw == "unless"}
	for _, a := range ast.Or {
		var and []CondTerm
		for _, t := range a.Terms {
			idx := t.Pos.Offset
			term := CondTerm{Pos: words[idx].Pos, Neg: len(t.Not)%2 == 1}
			if t.Brace != nil {
				// The words between the braces keep their positions.
				start := idx + 1
				for start < len(words) && strings.TrimLeft(words[start-1].Value, "!") != "{" {
					start++
				}
				term.Anon = append([]Word(nil), words[start:start+len(t.Brace.Words)]...)
			} else {
				term.Name = t.Name
			}
			and = append(and, term)
		}
		c.Or = append(c.Or, and)
	}
	return c, nil
}

// SplitCondition finds the first "if"/"unless" word in args and returns the
// words before it and the parsed condition (nil when there is none).
func SplitCondition(args []Word) ([]Word, *Condition, error) {
	for i, w := range args {
		if w.Value == "if" || w.Value == "unless" {
			c, err := ParseCondition(args[i:])
			return args[:i], c, err
		}
	}
	return args, nil, nil
}

func hasBrace(words []Word) bool {
	for _, w := range words[1:] {
		v := strings.TrimLeft(w.Value, "!")
		if v == "{" || v == "}" {
			return true
		}
	}
	return false
}

// parseNamedCondition is a fast path for the most common conditions, made
// only of (negated) ACL names and "||"/"or": most lines of a large
// configuration. It returns ok=false for anything else, which then goes
// through the grammar; FuzzCondition checks both agree.
func parseNamedCondition(words []Word) (*Condition, bool) {
	c := &Condition{Pos: words[0].Pos, Unless: words[0].Value == "unless"}
	var and []CondTerm
	neg := false
	var negPos *Pos
	for i := 1; i < len(words); i++ {
		w := words[i]
		v := w.Value
		if v == "||" || v == "or" {
			if len(and) == 0 || neg || negPos != nil {
				return nil, false
			}
			c.Or = append(c.Or, and)
			and = nil
			continue
		}
		n := 0
		for n < len(v) && v[n] == '!' {
			n++
		}
		if n > 0 && negPos == nil {
			p := w.Pos
			negPos = &p
		}
		if n%2 == 1 {
			neg = !neg
		}
		v = v[n:]
		if v == "" {
			continue
		}
		if n > 0 && (v == "||" || v == "or") {
			// "!||" is a negation followed by an operator: an error the
			// grammar reports.
			return nil, false
		}
		pos := w.Pos
		if negPos != nil {
			pos = *negPos
		}
		and = append(and, CondTerm{Pos: pos, Neg: neg, Name: v})
		neg, negPos = false, nil
	}
	if len(and) == 0 || neg || negPos != nil {
		return nil, false
	}
	c.Or = append(c.Or, and)
	return c, true
}
