package compat

import (
	"bufio"
	"os"
	"regexp"
	"strings"
	"testing"
)

// notHAProxy26 are keywords of KEYWORDS.md that haproxy 2.6 itself
// rejects (newer versions, build options, typos in the corpus): halo
// rejects them the same way, so they have no row.
var notHAProxy26 = map[string]bool{
	"crt-store": true, "ENDPOINT": true, "acl (?)": true,
}

// TestKeywordsCovered checks that every haproxy keyword counted in the
// corpus (../shared/corpus/KEYWORDS.md) has a row in the tables, so the
// migration report can say what halo does with it.
func TestKeywordsCovered(t *testing.T) {
	f, err := os.Open("../../shared/corpus/KEYWORDS.md")
	if err != nil {
		t.Skipf("corpus not available (%v)", err)
	}
	defer f.Close()
	rowRe := regexp.MustCompile("^\\| `([^`]+)` \\|")
	heading := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## Keepalived") {
			break
		}
		if strings.HasPrefix(line, "### ") {
			heading = line
			continue
		}
		m := rowRe.FindStringSubmatch(line)
		if m == nil || notHAProxy26[m[1]] {
			continue
		}
		kw := m[1]
		if !keywordKnown(heading, kw) {
			t.Errorf("%s: %q has no row", heading, kw)
		}
	}
}

func keywordKnown(heading, kw string) bool {
	has := func(tb *Table[*hctx], name string) bool { return tb.Get(name) != nil }
	switch {
	case strings.Contains(heading, "Section types"):
		_, other := otherSectionTables[kw]
		return other || kw == "global" || kw == "defaults" || kw == "frontend" || kw == "backend" ||
			kw == "listen" || kw == "userlist" || kw == "http-errors" || kw == "peers" || kw == "cache" || kw == "resolvers"
	case strings.Contains(heading, "in `global`"):
		return has(globalTable, kw)
	case strings.Contains(heading, "in `defaults`"), strings.Contains(heading, "in `frontend`"),
		strings.Contains(heading, "in `backend`"), strings.Contains(heading, "in `listen`"):
		return has(proxyTable, kw) || proxyTable.Get(kw+" enable") != nil || hasPrefixRow(proxyTable, kw+" ")
	case strings.Contains(heading, "in `userlist`"):
		return has(userlistTable, kw)
	case strings.Contains(heading, "in `http-errors`"):
		return has(httpErrorsTable, kw)
	case strings.Contains(heading, "in `resolvers`"):
		return has(resolversTable, kw)
	case strings.Contains(heading, "in `peers`"):
		return has(peersTable, kw)
	case strings.Contains(heading, "in `"):
		sec := heading[strings.Index(heading, "in `")+4:]
		sec = sec[:strings.Index(sec, "`")]
		tb := otherSectionTables[sec]
		if sec == "cache" {
			tb = cacheTable
		}
		return tb != nil && has(tb, kw)
	case strings.Contains(heading, "`option …`"):
		return has(proxyTable, strings.TrimPrefix(kw, "no ")) || inOtherSection(strings.Fields(kw)[0])
	case strings.Contains(heading, "`timeout …`"), strings.Contains(heading, "`http-check …`"),
		strings.Contains(heading, "`stats …`"):
		return has(proxyTable, kw) || has(globalTable, kw) || inOtherSection(strings.Fields(kw)[0])
	case strings.Contains(heading, "`mode …`"):
		return kw == "mode http" || kw == "mode tcp"
	case strings.Contains(heading, "`balance …`"):
		name := strings.TrimPrefix(kw, "balance ")
		if i := strings.IndexByte(name, '('); i >= 0 {
			name = name[:i]
		}
		return has(proxyTable, "balance "+name)
	case strings.Contains(heading, "`tcp-response …`"):
		return has(proxyTable, strings.Fields(kw)[0])
	case strings.Contains(heading, "<action>"):
		if has(proxyTable, kw) {
			return true
		}
		// track-sc0/1/2 are the track-sc row; lua.* the Lua row.
		for _, p := range []string{"track-sc", "lua."} {
			if i := strings.Index(kw, " "+p); i >= 0 {
				return has(proxyTable, kw[:i]+" "+p+"*") || has(proxyTable, kw[:i+1+len(p)])
			}
		}
		return has(proxyTable, strings.Join(strings.Fields(kw)[:2], " "))
	case strings.Contains(heading, "stick tables"):
		return has(proxyTable, strings.Fields(kw)[0])
	case strings.Contains(heading, "`log` target kinds"):
		return has(proxyTable, "log")
	case strings.Contains(heading, "`server`"):
		_, ok := serverParams[kw]
		return ok
	case strings.Contains(heading, "`bind`"):
		_, ok := bindParams[kw]
		return ok || strings.HasPrefix(kw, "<")
	case strings.Contains(heading, "Sample fetches"):
		_, f := haproxyFetches[kw]
		_, a := haproxyACLKeywords[kw]
		return f || a || strings.HasPrefix(kw, "lua.")
	case strings.Contains(heading, "Converters"):
		_, ok := haproxyConverters[kw]
		return ok
	}
	return true
}

func hasPrefixRow(tb *Table[*hctx], prefix string) bool {
	for _, r := range tb.Rows() {
		if strings.HasPrefix(r.Name, prefix) {
			return true
		}
	}
	return false
}

// inOtherSection: the keyword belongs to program/fcgi-app/resolvers… lines.
func inOtherSection(kw string) bool {
	for _, tb := range otherSectionTables {
		if tb.Get(kw) != nil {
			return true
		}
	}
	return false
}
