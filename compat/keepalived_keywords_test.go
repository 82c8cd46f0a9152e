package compat

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// kaNotKeywords are words the corpus uses where keepalived expects a
// keyword but that no keepalived knows: typos and pasted text. keepalived
// -t reports each as an unknown keyword, and so does halo (with a hint).
var kaNotKeywords = map[string]string{
	"lb":                                "a typo (the file has 'lb kind'); halo suggests lb_kind",
	"lb-kind":                           "a typo; halo suggests lb_kind",
	"lizx01@22app121p:/etc/keepalived$": "a pasted shell prompt",
	"mcast_src_ip=192.168.10.156":       "'=' is not keepalived syntax; halo says to write 'mcast_src_ip ADDR'",
	"mcast_src_ip=192.168.10.80":        "'=' is not keepalived syntax; halo says to write 'mcast_src_ip ADDR'",
	"VI_2":                              "a sync group member written outside group { }",
	"VI_3":                              "a sync group member written outside group { }",
}

// TestKeepalivedKeywordsCovered checks that every keepalived keyword the
// corpus uses (../shared/corpus/KEYWORDS.md) is a row of the table of its
// block, or a removed keyword halo explains, or a known non-keyword.
func TestKeepalivedKeywordsCovered(t *testing.T) {
	var data []byte
	for _, p := range []string{"../../shared/corpus/KEYWORDS.md", "../../../shared/corpus/KEYWORDS.md"} {
		if b, err := os.ReadFile(filepath.FromSlash(p)); err == nil {
			data = b
			break
		}
	}
	if data == nil {
		t.Skip("../shared/corpus/KEYWORDS.md is absent: keyword coverage not checked")
	}
	text := string(data)
	i := strings.Index(text, "## Keepalived")
	if i < 0 {
		t.Fatal("no Keepalived part in KEYWORDS.md")
	}
	text = text[i:]
	sections := map[string][]*kaSection{
		"global_defs": {kaGlobal}, "vrrp_instance": {kaInstance}, "authentication": {kaAuth},
		"vrrp_script": {kaScript}, "vrrp_sync_group": {kaSyncGroup}, "virtual_server": {kaVS},
		"real_server": {kaRS}, "url": {kaURL}, "checker": {kaChecker, kaHTTPChecker}, "": {kaTop},
		"checker-type": {kaRS}, "host": {kaSMTPHost},
	}
	known := func(sec, kw string) bool {
		if sec == "" && kw == "include" {
			return true // the parser reads include lines (parser.ParseKeepalived)
		}
		for _, s := range sections[sec] {
			if s.tab.Get(kw) != nil || kaRemoved[s.name+" "+kw] != "" {
				return true
			}
		}
		return kaNotKeywords[kw] != ""
	}
	row := regexp.MustCompile("^\\| `([^`]+)` \\|")
	sec := "-"
	checked := 0
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "### Inside checker"):
			sec = "checker"
		case strings.HasPrefix(line, "### Inside `url`"):
			sec = "url"
		case strings.HasPrefix(line, "### Inside `"):
			sec = strings.Trim(strings.Fields(line)[2], "`")
		case strings.HasPrefix(line, "### Top-level"):
			sec = ""
		case strings.HasPrefix(line, "### Health checker types"):
			sec = "real_server"
		case strings.HasPrefix(line, "### "):
			sec = "-" // frequency and value tables repeat the above
		}
		m := row.FindStringSubmatch(line)
		if m == nil || sec == "-" {
			continue
		}
		kw := strings.TrimSuffix(m[1], " { … }")
		checked++
		if !known(sec, kw) {
			t.Errorf("%s › %s: no row, no explanation", sec, kw)
		}
	}
	// the keywords only the upstream samples use, as "block › keyword"
	if j := strings.Index(text, "### In upstream samples only"); j >= 0 {
		para := strings.SplitN(strings.TrimSpace(text[j:]), "\n", 3)
		if len(para) >= 3 {
			for _, item := range strings.Split(strings.TrimSpace(para[2]), ", ") {
				item = strings.Trim(item, "`")
				sec, kw, ok := strings.Cut(item, " › ")
				if !ok {
					sec, kw = "", item
				}
				if sec == "values" {
					continue
				}
				checked++
				if !known(sec, kw) {
					t.Errorf("%s › %s (upstream samples): no row, no explanation", sec, kw)
				}
			}
		}
	}
	if checked < 80 {
		t.Errorf("only %d keywords found in KEYWORDS.md: has its layout changed?", checked)
	}
	t.Logf("%d corpus keywords checked", checked)
}
