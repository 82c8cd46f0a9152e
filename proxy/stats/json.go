package stats

import (
	_ "embed"
	"fmt"
	"strconv"
)

// jsonSchema is the JSON schema HAProxy 2.6 serves for `show schema json`
// and the stats page's ";json-schema" (management.txt §9.3 "show schema
// json"): a fixed document describing the "show info json" and "show stat
// json" arrays.
//
//go:embed assets/schema.json
var jsonSchema string

// Tag letters of the typed output ("MGP:u32": origin, nature, scope) and
// the words HAProxy's JSON uses for them.
var (
	jsonOrigin = map[byte]string{'M': "Metric", 'S': "Status", 'K': "Key", 'C': "Config", 'P': "Product"}
	jsonNature = map[byte]string{'G': "Gauge", 'L': "Limit", 'm': "Min", 'M': "Max", 'R': "Rate",
		'C': "Counter", 'D': "Duration", 'A': "Age", 'T': "Time", 'N': "Name", 'O': "Output", 'a': "Avg"}
	jsonScope   = map[byte]string{'P': "Process", 'S': "Service", 's': "System", 'C': "Cluster"}
	jsonObjType = map[string]string{"0": "Frontend", "1": "Backend", "2": "Server", "3": "Listener"}
	typeLetter  = map[string]string{"0": "F", "1": "B", "2": "S", "3": "L"}
)

// typedFields calls fn for each non-empty field of r as `show stat typed`
// numbers them: the "-" column separating the module counters is not a
// field, so positions after it are one less than CSV columns.
func typedFields(r Row, fn func(pos int, name, meta, v string)) {
	letter := typeLetter[r.Get("type")]
	dash := fieldIndex["-"]
	for i, v := range r {
		if v == "" || i >= len(Fields) || i == dash {
			continue
		}
		pos := i
		if i > dash {
			pos--
		}
		if v == emptyField {
			v = ""
		}
		meta, ok := typedMeta[letter+"|"+Fields[i]]
		if !ok {
			meta = "MCP:u64"
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				meta = "MNP:str"
			}
		}
		fn(pos, Fields[i], meta, v)
	}
}

// appendJSONTags writes `"tags":{…},"value":{…}` for a typed meta
// ("MGP:u32") and its value.
func appendJSONTags(dst []byte, meta string, v string) []byte {
	var o, n, s byte = '?', '?', '?'
	if len(meta) >= 3 {
		o, n, s = meta[0], meta[1], meta[2]
	}
	word := func(m map[byte]string, c byte) string {
		if w, ok := m[c]; ok {
			return w
		}
		return "Unknown"
	}
	typ := "str"
	if len(meta) > 4 {
		typ = meta[4:]
	}
	dst = fmt.Appendf(dst, `"tags":{"origin":"%s","nature":"%s","scope":"%s"},"value":{"type":"%s","value":`,
		word(jsonOrigin, o), word(jsonNature, n), word(jsonScope, s), typ)
	if typ == "str" {
		dst = appendJSONString(dst, v)
	} else {
		dst = append(dst, v...)
	}
	return append(dst, '}')
}

// appendJSONString quotes s for JSON. HAProxy 2.6 prints strings between
// quotes as they are; escaping keeps the document valid when a value
// (a check's last output) holds a quote or a control character.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = fmt.Appendf(dst, `\u%04x`, c)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

// AppendJSON renders rows as `show stat json` and the page's ";json": an
// array holding one array of typed fields per row.
func AppendJSON(dst []byte, rows []Row) []byte {
	dst = append(dst, '[')
	for i, r := range rows {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		first := true
		obj, iid, sid := jsonObjType[r.Get("type")], r.Get("iid"), r.Get("sid")
		typedFields(r, func(pos int, name, meta, v string) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = fmt.Appendf(dst, `{"objType":"%s","proxyId":%s,"id":%s,"field":{"pos":%d,"name":"%s"},"processNum":1,`,
				obj, iid, sid, pos, name)
			dst = appendJSONTags(dst, meta, v)
			dst = append(dst, '}')
		})
		dst = append(dst, ']')
	}
	return append(dst, "]\n"...)
}

// InfoJSON renders `show info json`: the typed info fields as an array.
func (s *Stats) InfoJSON() string {
	dst := []byte{'['}
	first := true
	for _, e := range s.infoFields() {
		m, ok := infoTypedMeta[e.k]
		if !ok {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = fmt.Appendf(dst, `{"field":{"pos":%d,"name":"%s"},"processNum":1,`, m.idx, e.k)
		dst = appendJSONTags(dst, m.meta, fmt.Sprint(e.v))
		dst = append(dst, '}')
	}
	return string(append(dst, "]\n"...))
}

// SchemaJSON is `show schema json`'s document, newline-terminated.
func SchemaJSON() string { return jsonSchema + "\n" }
