package parser

import (
	"fmt"
	"strings"
)

// The haproxy line tokenizer is hand-written rather than a participle lexer:
// HAProxy's parse_line() (src/tools.c) is a byte-level state machine where a
// quote may open in the middle of a word, "$VAR" is only expanded inside
// double quotes, a trailing empty quoted word is dropped and an escape means
// different things inside and outside quotes. Reproducing those rules
// exactly is simpler and much faster as a loop than as token rules.

// maxLineArgs is HAProxy's MAX_LINE_ARGS.
const maxLineArgs = 64

// lineError is a tokenizer error; pos is HAProxy's 1-based byte position in
// the raw line (leading blanks included).
type lineError struct {
	what string
	pos  int
}

// lexLine splits one configuration line (without its LF) into words the way
// HAProxy 2.6 does for configuration files (PARSE_OPT_ENV | DQUOTE | SQUOTE |
// BKSLASH | SHARP | WORD_EXPAND). lineno/section feed .LINE/.SECTION.
func lexLine(line string, file string, lineno int, section string, env Env) ([]Word, *lineError) {
	var lx lineLexer
	return lx.line(line, file, lineno, section, env)
}

// lexer keeps buffers across the lines of a file: the bytes of the word
// being built, and an arena the lines' words are carved from, so a large
// configuration does not allocate per line.
type lineLexer struct {
	cur   []byte
	arena []Word
}

func (lx *lineLexer) line(line string, file string, lineno int, section string, env Env) ([]Word, *lineError) {
	if cap(lx.arena)-len(lx.arena) < 16 {
		lx.arena = make([]Word, 0, 1024)
	}
	base := len(lx.arena)
	var (
		words    = lx.arena[base:base]
		cur      = lx.cur[:0]
		start    = -1 // index in line where the current word began
		quoted   bool
		squote   bool
		dquote   bool
		quotePos = -1
	)
	begin := func(i int) {
		if start < 0 {
			start = i
		}
	}
	flush := func(end int) {
		if start < 0 {
			start = end
		}
		raw := line[start:end]
		val := raw
		// Most words are written plainly: their value is their raw text,
		// which shares the file's memory instead of allocating.
		if string(cur) != raw {
			val = string(cur)
		}
		words = append(words, Word{
			Pos:    Pos{File: file, Line: lineno, Col: start + 1},
			Value:  val,
			Raw:    raw,
			Quoted: quoted,
		})
		cur = cur[:0]
		start = -1
		quoted = false
	}
	i := 0
	for i < len(line) && isSpace(line[i]) {
		i++
	}
	for i < len(line) {
		c := line[i]
		switch {
		case c == '\n' || c == '\r' || c == 0:
			goto done
		case c == '#' && !squote && !dquote:
			goto done
		case c == '"' && !squote:
			begin(i)
			dquote = !dquote
			quoted = true
			quotePos = i
			i++
		case c == '\'' && !dquote:
			begin(i)
			squote = !squote
			quoted = true
			quotePos = i
			i++
		case c == '\\' && !squote:
			begin(i)
			send := c
			if i+1 < len(line) {
				switch line[i+1] {
				case ' ', '\\':
					i++
					send = line[i]
				case 't':
					i++
					send = '\t'
				case 'n':
					i++
					send = '\n'
				case 'r':
					i++
					send = '\r'
				case '#', '\'', '"':
					i++
					send = line[i]
				case '$':
					if dquote {
						i++
						send = '$'
					}
				case 'x':
					if !isHex(at(line, i+2)) || !isHex(at(line, i+3)) {
						return nil, &lineError{"truncated or invalid hexadecimal sequence", i + 1}
					}
					send = unhex(line[i+2])<<4 | unhex(line[i+3])
					i += 3
				}
			}
			i++
			cur = append(cur, send)
		case isSpace(c) && !squote && !dquote:
			for i < len(line) && isSpace(line[i]) {
				i++
			}
			flush(i)
			if len(words) >= maxLineArgs {
				return words, &lineError{fmt.Sprintf("too many words, truncating after word %d", maxLineArgs), i + 1}
			}
			// The word after the blanks starts here.
			start = i
		case c == '$' && dquote:
			begin(i)
			i++
			brace := -1
			if i < len(line) && line[i] == '{' {
				brace = i
				i++
			}
			if i >= len(line) || !(isAlpha(line[i]) || line[i] == '_' || line[i] == '.') {
				return nil, &lineError{"forbidden first char in environment variable name", i + 1}
			}
			nameStart := i
			if line[i] == '.' {
				i++
			}
			for i < len(line) && (isAlnum(line[i]) || line[i] == '_') {
				i++
			}
			name := line[nameStart:i]
			var value string
			var ok bool
			if name[0] == '.' {
				value, ok = pseudoVar(name, file, lineno, section), true
			} else {
				value, ok = env.Lookup(name)
			}
			expand := false
			if i < len(line) && line[i] == '[' && brace >= 0 {
				wp := i
				if i+2 >= len(line) || line[i+1] != '*' || line[i+2] != ']' {
					return nil, &lineError{"wrong variable expansion", wp + 1}
				}
				i += 3
				expand = true
			}
			if brace >= 0 {
				if i < len(line) && line[i] == '-' {
					end := strings.IndexByte(line[i:], '}')
					if end < 0 {
						return nil, &lineError{"unmatched brace in environment variable name", brace + 1}
					}
					if !ok {
						value, ok = line[i+1:i+end], true
					}
					i += end
				} else if i >= len(line) || line[i] != '}' {
					return nil, &lineError{"unmatched brace in environment variable name", brace + 1}
				}
				i++ // the closing brace
			}
			if expand {
				// ${VAR[*]}: a space in the value separates arguments.
				for j := 0; j < len(value); {
					if isSpace(value[j]) {
						flush(i)
						for j < len(value) && isSpace(value[j]) {
							j++
						}
						start = i
						quoted = true
						continue
					}
					cur = append(cur, value[j])
					j++
				}
			} else {
				cur = append(cur, value...)
			}
		default:
			begin(i)
			cur = append(cur, c)
			i++
		}
	}
done:
	if squote || dquote {
		return nil, &lineError{"unmatched quote", quotePos + 1}
	}
	// Like parse_line(), an empty last word is not an argument (trailing
	// blanks, or a trailing "" / "${UNSET}").
	if len(cur) > 0 {
		flush(min(i, len(line)))
	}
	lx.cur = cur
	if len(words) > 0 && &words[0] == &lx.arena[:base+1][base] {
		// The words stayed in the arena: keep them, capped so that later
		// lines cannot overwrite them.
		lx.arena = lx.arena[:base+len(words)]
		return words[:len(words):len(words)], nil
	}
	return words, nil
}

func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
func isAlpha(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }
func isAlnum(c byte) bool { return isAlpha(c) || (c >= '0' && c <= '9') }
func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || ((c|0x20) >= 'a' && (c|0x20) <= 'f')
}
func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return (c | 0x20) - 'a' + 10
}
