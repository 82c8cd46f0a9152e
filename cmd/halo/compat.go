package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"halo/compat"
	"halo/parser"
)

var (
	kaHint = regexp.MustCompile(`(?m)^\s*(global_defs|vrrp_instance|vrrp_script|vrrp_sync_group|virtual_server|virtual_server_group|static_ipaddress|include)\b`)
	haHint = regexp.MustCompile(`(?m)^\s*(global|defaults|frontend|backend|listen|userlist|resolvers|peers)(\s|$)`)
)

// detectLang tells a keepalived.conf from a haproxy.cfg by its content,
// then by its name.
func detectLang(path string, data []byte) parser.Lang {
	ka, ha := kaHint.Match(data), haHint.Match(data)
	switch {
	case ka && !ha:
		return parser.LangKeepalived
	case ha && !ka:
		return parser.LangHAProxy
	}
	base := filepath.Base(path)
	if bytes.Contains([]byte(base), []byte("keepalived")) {
		return parser.LangKeepalived
	}
	if filepath.Ext(base) == ".conf" && ka {
		return parser.LangKeepalived
	}
	return parser.LangHAProxy
}

const compatUsage = `usage: halo compat [--json] FILE…
       halo compat --keywords [--json]
       halo compat --pair A.conf B.conf [haproxy.cfg…]   (HA lint of two nodes)
Reports, for each haproxy.cfg or keepalived.conf, every directive halo does
not run exactly as the original tool, and a summary. The configuration is
loaded and checked exactly as 'halo haproxy -c' / 'halo keepalived -t' do
(rules compiled, server addresses resolved, interfaces and files looked
up on this machine). Exit status 1 when something unsupported would change
behaviour or that check fails.
`

func compatMain(argv []string) int { return compatCmd(argv, os.Stdout, os.Stderr) }

// compatCmd is `halo compat ARGS…` writing to the given streams.
func compatCmd(argv []string, stdout, stderr io.Writer) int {
	asJSON, list, pair := false, false, false
	var files []string
	for _, a := range argv {
		switch a {
		case "--json", "-json":
			asJSON = true
		case "--keywords":
			list = true
		case "--pair":
			pair = true // keepalived_pair.go
		case "-h", "--help":
			fmt.Fprint(stdout, compatUsage)
			return 0
		default:
			if len(a) > 1 && a[0] == '-' {
				fmt.Fprintf(stderr, "halo compat: unknown option %s\n%s", a, compatUsage)
				return 2
			}
			files = append(files, a)
		}
	}
	if list {
		return listKeywords(stdout, asJSON)
	}
	if pair {
		return compatPair(files, stdout, stderr)
	}
	if len(files) == 0 {
		fmt.Fprint(stderr, compatUsage)
		return 2
	}
	// All haproxy files form one configuration, as with repeated -f; each
	// keepalived file is its own.
	var haFiles []string
	var reports []*compat.Report
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			if st, serr := os.Stat(f); serr == nil && st.IsDir() {
				haFiles = append(haFiles, f)
				continue
			}
			fmt.Fprintf(stderr, "halo compat: %v\n", err)
			return 2
		}
		if detectLang(f, data) == parser.LangKeepalived {
			_, rep := loadKeepalived(f, compat.KeepalivedOptions{ConfigID: keepalivedConfigID(keepalivedFlags{})})
			reports = append(reports, rep)
			continue
		}
		haFiles = append(haFiles, f)
	}
	if len(haFiles) > 0 {
		paths, err := parser.ExpandHAProxyPaths(haFiles)
		if err != nil {
			fmt.Fprintf(stderr, "halo compat: %v\n", err)
			return 2
		}
		// The very load `halo haproxy -c` runs: the report fails whenever
		// the check does.
		_, rep := loadHAProxy(paths, haproxyLoadOpts{})
		reports = append([]*compat.Report{rep}, reports...)
	}
	code := 0
	if asJSON {
		if len(reports) == 1 {
			if err := compat.RenderJSON(stdout, reports[0]); err != nil {
				return 2
			}
		} else {
			var raw []json.RawMessage
			for _, r := range reports {
				var b bytes.Buffer
				if err := compat.RenderJSON(&b, r); err != nil {
					return 2
				}
				raw = append(raw, b.Bytes())
			}
			out, _ := json.MarshalIndent(raw, "", "  ")
			fmt.Fprintln(stdout, string(out))
		}
	}
	for _, r := range reports {
		if !asJSON {
			if err := compat.RenderText(stdout, r); err != nil {
				return 2
			}
		}
		if r.ExitCode() != 0 {
			code = 1
		}
	}
	return code
}

// listKeywords prints every haproxy keyword halo knows with its status,
// from the same tables -c and the report use.
func listKeywords(w io.Writer, asJSON bool) int {
	kws := compat.HAProxyKeywords()
	if asJSON {
		out, err := json.MarshalIndent(kws, "", "  ")
		if err != nil {
			return 2
		}
		fmt.Fprintln(w, string(out))
		return 0
	}
	fmt.Fprintln(w, "| section | keyword | status | what differs |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, k := range kws {
		fmt.Fprintf(w, "| %s | `%s` | %s | %s |\n", k.Section, k.Keyword, k.Status, k.Note)
	}
	return 0
}
