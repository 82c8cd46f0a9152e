package compat

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"halo/parser"
)

func TestRender(t *testing.T) {
	r := &Report{Lang: parser.LangHAProxy, Files: []string{"h.cfg"}}
	r.Record(parser.Pos{File: "h.cfg", Line: 2}, "global", "maxconn", Supported, "")
	r.Record(parser.Pos{File: "h.cfg", Line: 5}, "global", "lua-load", Unsupported, "Lua is not supported")
	for _, tc := range []struct {
		name string
		json bool
		want []string
	}{
		{"text", false, []string{"h.cfg:5: [global] lua-load: unsupported: Lua is not supported\n", "haproxy: 1 supported, 0 partial, 0 ignored, 1 unsupported (behaviour would change)\n"}},
		{"json", true, []string{`"keyword": "lua-load"`, `"status": "unsupported"`, `"ok": false`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			var err error
			if tc.json {
				err = RenderJSON(&b, r)
				var v map[string]any
				if jerr := json.Unmarshal(b.Bytes(), &v); jerr != nil {
					t.Fatalf("invalid json: %v", jerr)
				}
			} else {
				err = RenderText(&b, r)
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
	if r.ExitCode() != 1 {
		t.Fatal("unsupported directive must give exit 1")
	}
}
