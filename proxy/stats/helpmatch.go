package stats

import (
	"fmt"
	"sort"
	"strings"
)

// HAProxy 2.6's CLI answers `help`, and any command it does not know,
// with a list of commands: those whose first words are the words typed
// (the longest such prefix), narrowed, when more words follow, to the few
// whose remaining words look most like them. How alike two word lists
// look is the distance between their letter-pair fingerprints.

// helpEntry is one command of a help list.
type helpEntry struct {
	words []string // the words that select the command
	line  string   // "usage<padding>: help"
}

func helpLine(usage, help string) string { return fmt.Sprintf("%-40s: %s", usage, help) }

// helpTrailer closes every help list.
var helpTrailer = "  " + helpLine("help [<command>]", "list matching or all commands") + "\n" +
	"  " + helpLine("prompt", "toggle interactive mode with prompt") + "\n" +
	"  " + helpLine("quit", "disconnect") + "\n"

// letterClass maps a character as the fingerprint sees it: letters 1-26,
// digits 27, anything else 28 (also a word's begin and end).
func letterClass(c byte) int {
	switch {
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 1
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 1
	case c >= '0' && c <= '9':
		return 27
	}
	return 28
}

// addFingerprint counts w's letter pairs, its begin and end included.
func addFingerprint(fp *[1024]int, w string) {
	from := 28
	for i := 0; i < len(w); i++ {
		to := letterClass(w[i])
		fp[32*from+to]++
		from = to
	}
	fp[32*from+28]++
}

func fingerprintDistance(a, b *[1024]int) int {
	d := 0
	for i := range a {
		if k := a[i] - b[i]; k < 0 {
			d -= k
		} else {
			d += k
		}
	}
	return d
}

// helpList renders the list for args (the words after `help`, or an
// unknown command's words), as HAProxy's usage message does.
func helpList(entries []helpEntry, args []string, isHelp bool) string {
	length := 0
	for _, e := range entries {
		n := 0
		for n < len(e.words) && n < len(args) && e.words[n] == args[n] {
			n++
		}
		if n > length {
			length = n
		}
	}
	matchesPrefix := func(e helpEntry) bool {
		if len(e.words) < length {
			return false
		}
		for i := 0; i < length; i++ {
			if e.words[i] != args[i] {
				return false
			}
		}
		return true
	}
	var b strings.Builder
	switch {
	case isHelp:
		b.WriteString("The following commands are valid at this level:\n")
	case length == 0 && len(args) == 0:
		b.WriteString("Unknown command. Please enter one of the following commands only:\n")
	default:
		b.WriteString("Unknown command, but maybe one of the following ones is a better match:\n")
	}
	var shown []helpEntry
	if length < len(args) {
		// the words after the matching ones are compared fuzzily; the
		// five closest are kept, ties to the first seen
		type match struct {
			e    helpEntry
			dist int
		}
		var best []match
		for _, e := range entries {
			if !matchesPrefix(e) {
				continue
			}
			var typed, kw [1024]int
			total := 0
			for _, w := range args[length:] {
				addFingerprint(&typed, w)
				total += len(w)
			}
			for _, w := range e.words[length:] {
				addFingerprint(&kw, w)
				total += len(w)
			}
			d := fingerprintDistance(&typed, &kw)
			if d >= 5*total/2 {
				continue
			}
			if len(best) == 5 && d >= best[4].dist {
				continue
			}
			i := sort.Search(len(best), func(i int) bool { return best[i].dist > d })
			best = append(best, match{})
			copy(best[i+1:], best[i:])
			best[i] = match{e, d}
			if len(best) > 5 {
				best = best[:5]
			}
		}
		for _, m := range best {
			if m.dist > 5*best[0].dist/2 {
				break
			}
			shown = append(shown, m.e)
		}
	}
	if len(shown) == 0 {
		for _, e := range entries {
			if matchesPrefix(e) {
				shown = append(shown, e)
			}
		}
	}
	sort.SliceStable(shown, func(i, j int) bool { return shown[i].line < shown[j].line })
	for _, e := range shown {
		b.WriteString("  " + e.line + "\n")
	}
	b.WriteString(helpTrailer)
	return b.String()
}
