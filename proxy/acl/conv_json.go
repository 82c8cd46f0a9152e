package acl

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jsonConvs query JSON documents and JSON Web Tokens (configuration.txt
// §7.3.1 json_query, jwt_header_query, jwt_payload_query).
func jsonConvs() []*convDef {
	return []*convDef{
		{name: "json_query", minArgs: 1, maxArgs: 2, out: KStr, compile: compileJSONQuery, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
			return jsonQuery(c, cv, toStr(c, v))
		}},
		{name: "jwt_header_query", maxArgs: 2, out: KStr, compile: compileJSONQuery, fn: jwtPart(0)},
		{name: "jwt_payload_query", maxArgs: 2, out: KStr, compile: compileJSONQuery, fn: jwtPart(1)},
	}
}

// jsonPath is a compiled JSON path: object keys and array indexes.
type jsonPath []jsonStep

type jsonStep struct {
	key   string
	index int // -1: a key
}

// compileJSONQuery reads (json_path[,output_type]): a path "$", ".key"
// (a backslash escapes a dot), "[n]" or "['key']", and the output type
// "int" or nothing (the value's own type).
func compileJSONQuery(cv *conv, o *Options) error {
	if len(cv.args) == 0 || cv.args[0] == "" {
		return nil // jwt_*_query without a path: the decoded part
	}
	p, err := parseJSONPath(cv.args[0])
	if err != nil {
		return err
	}
	cv.ref = p
	if len(cv.args) > 1 && cv.args[1] != "" {
		if cv.args[1] != "int" {
			return fmt.Errorf("output_type only supports \"int\" as argument")
		}
		cv.num = 1
	}
	return nil
}

func parseJSONPath(s string) (jsonPath, error) {
	if !strings.HasPrefix(s, "$") {
		return nil, fmt.Errorf("invalid json path '%s': must start with '$'", s)
	}
	var p jsonPath
	s = s[1:]
	for s != "" {
		switch s[0] {
		case '.':
			s = s[1:]
			var key strings.Builder
			for s != "" && s[0] != '.' && s[0] != '[' {
				if s[0] == '\\' && len(s) > 1 {
					s = s[1:]
				}
				key.WriteByte(s[0])
				s = s[1:]
			}
			p = append(p, jsonStep{key: key.String(), index: -1})
		case '[':
			end := strings.IndexByte(s, ']')
			if end < 0 {
				return nil, fmt.Errorf("invalid json path: missing ']'")
			}
			in := s[1:end]
			s = s[end+1:]
			if len(in) >= 2 && (in[0] == '\'' || in[0] == '"') && in[len(in)-1] == in[0] {
				p = append(p, jsonStep{key: in[1 : len(in)-1], index: -1})
				continue
			}
			n, err := strconv.Atoi(in)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("invalid json path index '%s'", in)
			}
			p = append(p, jsonStep{index: n})
		default:
			return nil, fmt.Errorf("invalid json path: unexpected '%c'", s[0])
		}
	}
	return p, nil
}

// jsonQuery finds the path in doc: strings come back unescaped, booleans
// as booleans, numbers as "%g" text or, with output type int, integers.
// Objects, arrays and null are not returned.
func jsonQuery(c *Ctx, cv *conv, doc []byte) (Value, bool) {
	p, _ := cv.ref.(jsonPath)
	raw := json.RawMessage(bytes.TrimSpace(doc))
	if !json.Valid(raw) {
		return Value{}, false
	}
	for _, st := range p {
		if st.index < 0 {
			var m map[string]json.RawMessage
			if json.Unmarshal(raw, &m) != nil {
				return Value{}, false
			}
			var ok bool
			if raw, ok = m[st.key]; !ok {
				return Value{}, false
			}
		} else {
			var a []json.RawMessage
			if json.Unmarshal(raw, &a) != nil || st.index >= len(a) {
				return Value{}, false
			}
			raw = a[st.index]
		}
	}
	if len(raw) == 0 {
		return Value{}, false
	}
	switch raw[0] {
	case '"':
		if cv.num == 1 {
			return Value{}, false
		}
		return strVal(unescapeJSON(c, raw[1:len(raw)-1])), true
	case 't', 'f':
		return boolVal(raw[0] == 't'), true
	case 'n', '{', '[':
		return Value{}, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return Value{}, false
	}
	if cv.num == 1 { // truncated, as HAProxy 2.6.12 answers
		if math.IsNaN(f) || f < math.MinInt64 || f >= math.MaxInt64 {
			return Value{}, false
		}
		return intVal(int64(f)), true
	}
	buf := strconv.AppendFloat(c.scratchBuf(), f, 'g', 6, 64)
	c.keepScratch(buf)
	return strVal(buf), true
}

// unescapeJSON decodes a JSON string's escapes as HAProxy's JSON reader
// (mjson) does: \uXXXX below U+0100 becomes one byte, other bytes are
// kept as they are.
func unescapeJSON(c *Ctx, s []byte) []byte {
	if bytes.IndexByte(s, '\\') < 0 {
		return s
	}
	buf := c.scratchBuf()
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			buf = append(buf, s[i])
			continue
		}
		i++
		switch s[i] {
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if i+4 < len(s) {
				if r, err := strconv.ParseUint(string(s[i+1:i+5]), 16, 32); err == nil {
					if r < 0x100 {
						buf = append(buf, byte(r))
					} else {
						buf = utf8.AppendRune(buf, rune(r))
					}
					i += 4
					continue
				}
			}
			buf = append(buf, 'u')
		default:
			buf = append(buf, s[i])
		}
	}
	c.keepScratch(buf)
	return buf
}

// jwtPart decodes part i (0 header, 1 payload) of a JWT and, with a
// path, queries it.
func jwtPart(i int) convFn {
	return func(c *Ctx, cv *conv, v Value) (Value, bool) {
		parts := bytes.Split(toStr(c, v), []byte("."))
		if len(parts) < 2 {
			return Value{}, false
		}
		dec, err := base64.RawURLEncoding.AppendDecode(c.scratchBuf(), parts[i])
		if err != nil {
			return Value{}, false
		}
		c.keepScratch(dec)
		if cv.ref == nil {
			// Documented as the decoded part, but HAProxy 2.6.12
			// answers nothing without a path: so does halo.
			return Value{}, false
		}
		return jsonQuery(c, cv, dec)
	}
}
