package main

import (
	"fmt"
	"io"
	"os"

	"halo/compat"
	"halo/halint"
	"halo/parser"
)

const pairUsage = `usage: halo compat --pair A.conf B.conf [haproxy.cfg…]
Reads both nodes' keepalived.conf (and the haproxy.cfg they run beside) and
reports, with file:line, what cannot fail over as intended: a nopreempt
BACKUP beside weighted checks, check weights that cannot cross the priority
gap, VRID/auth/advert/version/address differences between the nodes, unicast
peers that do not name each other, checks looking for a process HAProxy does
not run as, nopreempt with state MASTER. Exit status 1 when it finds any.
`

// haNode loads one keepalived file for the lint: compat's decoding (no
// host checks: the file may be for another machine) and the file as written.
func haNode(path string, haproxy bool) (*halint.Node, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	opt := compat.KeepalivedOptions{ConfigID: keepalivedConfigID(keepalivedFlags{})}
	cfg, _ := compat.LoadKeepalived(path, opt)
	if cfg == nil {
		return nil, fmt.Errorf("%s: keepalived would not start with it (halo keepalived -t -f %s)", path, path)
	}
	po := opt.Parse
	po.ConfigID = opt.ConfigID
	ast, _ := parser.ParseKeepalived(path, po)
	return &halint.Node{Path: path, Cfg: cfg, AST: ast, HAProxy: haproxy}, nil
}

// compatPair is `halo compat --pair A.conf B.conf [haproxy.cfg…]`.
func compatPair(files []string, stdout, stderr io.Writer) int {
	var kas []string
	haproxy := false
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "halo compat: %v\n", err)
			return 2
		}
		if detectLang(f, data) == parser.LangKeepalived {
			kas = append(kas, f)
		} else {
			haproxy = true
		}
	}
	if len(kas) != 2 {
		fmt.Fprintf(stderr, "halo compat --pair: %d keepalived files, need the two nodes'\n%s", len(kas), pairUsage)
		return 2
	}
	a, err := haNode(kas[0], haproxy)
	if err == nil {
		var b *halint.Node
		if b, err = haNode(kas[1], haproxy); err == nil {
			return printFindings(stdout, halint.Pair(a, b))
		}
	}
	fmt.Fprintf(stderr, "halo compat: %v\n", err)
	return 2
}

func printFindings(w io.Writer, fs []halint.Finding) int {
	for _, f := range fs {
		fmt.Fprintf(w, "%s:%d: warning: %s [%s]\n", f.Pos.File, f.Pos.Line, f.Msg, f.Check)
	}
	if len(fs) == 0 {
		fmt.Fprintln(w, "halint: nothing found that stops a failover")
		return 0
	}
	fmt.Fprintf(w, "halint: %d finding(s)\n", len(fs))
	return 1
}

// lintDiags are the single-node HA lint findings as -t diagnostics (halo's
// own notes: they never change keepalived's exit status).
func lintDiags(path string, opt compat.KeepalivedOptions) []compat.Diagnostic {
	cfg, _ := compat.LoadKeepalived(path, opt)
	if cfg == nil {
		return nil
	}
	po := opt.Parse
	po.ConfigID = opt.ConfigID
	ast, _ := parser.ParseKeepalived(path, po)
	var out []compat.Diagnostic
	for _, f := range halint.Single(&halint.Node{Path: path, Cfg: cfg, AST: ast}) {
		out = append(out, compat.Diagnostic{Pos: f.Pos, Sev: parser.SevWarning, Msg: f.Msg + " [" + f.Check + "]"})
	}
	return out
}
