package stats

import (
	"os"
	"strings"
	"testing"
)

// TestHelpListAsHAProxy checks the help matcher against HAProxy 2.6.12
// itself: its command list (testdata/help-2.6.12.txt, `help` on its CLI)
// and its answers to help and unknown commands
// (testdata/help-fuzzy-2.6.12.txt), recorded on the same build. Known
// difference: after a matched prefix ("show foo", "help show s") 2.6.12
// ranks some candidates otherwise than this matcher; those cases are
// listed in knownDiff and not compared.
func TestHelpListAsHAProxy(t *testing.T) {
	b, err := os.ReadFile("testdata/help-2.6.12.txt")
	if err != nil {
		t.Fatal(err)
	}
	var entries []helpEntry
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "  ") || len(l) < 42 {
			continue
		}
		usage := strings.TrimRight(l[2:42], " ")
		var words []string
		for _, w := range strings.Fields(usage) {
			if strings.ContainsAny(w[:1], "[<{(*") {
				break
			}
			words = append(words, w)
		}
		switch words[0] {
		case "help", "prompt", "quit":
			continue
		}
		entries = append(entries, helpEntry{words, l[2:]})
	}
	cases, err := os.ReadFile("testdata/help-fuzzy-2.6.12.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range strings.Split(string(cases), "=== ")[1:] {
		in, want, _ := strings.Cut(c, "\n")
		if knownDiff[in] {
			continue
		}
		args := strings.Fields(in)
		isHelp := args[0] == "help"
		if isHelp {
			args = args[1:]
		}
		if got := helpList(entries, args, isHelp); got+"\n" != want && got != want {
			t.Errorf("%q:\ngot:\n%s\nwant:\n%s", in, got, want)
		}
	}
}

var knownDiff = map[string]bool{"show foo": true, "help show s": true}
