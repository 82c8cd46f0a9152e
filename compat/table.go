package compat

import (
	"fmt"
	"sort"
	"strings"

	"halo/parser"
)

// Keyword is one row of a keyword table: the keyword as written (possibly
// several words, e.g. "option forwardfor" or "timeout client"), how far halo
// executes it, a one-line note on what differs, and the decoder that fills
// the typed config. C is the loader's decoding context.
type Keyword[C any] struct {
	Name   string
	Status Status
	Note   string
	// Decode interprets the directive. args are the words after the
	// keyword's own words. It reports problems through the context (which
	// knows the Report); its error, when non-nil, is an alert at d.Pos.
	Decode func(c C, d *parser.Directive, args []parser.Word) error
	// Sub marks a row that only documents the status of a sub-keyword
	// ("http-request set-header") whose parent row ("http-request")
	// decodes it; Lookup never returns it, Get does.
	Sub bool
}

// Table is the keyword table of one section kind. Rows are matched on the
// longest run of leading words, so "option forwardfor" wins over "option".
type Table[C any] struct {
	Section  string
	rows     []*Keyword[C]
	byName   map[string]*Keyword[C]
	maxWords int
}

// NewTable builds a table. A duplicate keyword is a programming error and
// panics at init, so tables cannot silently shadow rows.
func NewTable[C any](section string, rows []Keyword[C]) *Table[C] {
	t := &Table[C]{Section: section, byName: make(map[string]*Keyword[C], len(rows))}
	for i := range rows {
		t.Add(rows[i])
	}
	return t
}

// Add appends a row (used by tables that are assembled from several lists).
func (t *Table[C]) Add(kw Keyword[C]) {
	if _, dup := t.byName[kw.Name]; dup {
		panic(fmt.Sprintf("compat: duplicate keyword %q in %s table", kw.Name, t.Section))
	}
	k := kw
	t.rows = append(t.rows, &k)
	t.byName[k.Name] = &k
	if n := strings.Count(k.Name, " ") + 1; n > t.maxWords {
		t.maxWords = n
	}
}

// Get returns the row named exactly name, or nil.
func (t *Table[C]) Get(name string) *Keyword[C] { return t.byName[name] }

// Lookup finds the row matching the longest prefix of words; n is how many
// words the keyword used. It returns nil when no row matches.
func (t *Table[C]) Lookup(words []string) (kw *Keyword[C], n int) {
	max := t.maxWords
	if max > len(words) {
		max = len(words)
	}
	// The key is built in a stack buffer: a map index with string(buf)
	// does not allocate, and every configuration line goes through here.
	var arr [128]byte
	for n = max; n >= 1; n-- {
		buf := arr[:0]
		for i := 0; i < n; i++ {
			if i > 0 {
				buf = append(buf, ' ')
			}
			buf = append(buf, words[i]...)
		}
		if k, ok := t.byName[string(buf)]; ok && !k.Sub {
			return k, n
		}
	}
	return nil, 0
}

// Rows returns the rows in table order.
func (t *Table[C]) Rows() []*Keyword[C] { return t.rows }

// SetStatus changes a row's status and note; it reports whether the row
// exists. It lets the statuses live in one list that is flipped as
// runtimes land, apart from the decoders.
func (t *Table[C]) SetStatus(name string, s Status, note string) bool {
	k, ok := t.byName[name]
	if !ok {
		return false
	}
	k.Status = s
	if note != "" || s == Supported {
		k.Note = note
	}
	return true
}

// Names returns every keyword of the table, sorted.
func (t *Table[C]) Names() []string {
	out := make([]string, 0, len(t.rows))
	for _, k := range t.rows {
		out = append(out, k.Name)
	}
	sort.Strings(out)
	return out
}

// Suggest returns the keyword of the table closest to word, or "" when
// nothing is close enough to be a plausible typo.
func (t *Table[C]) Suggest(word string) string {
	first := make([]string, 0, len(t.rows))
	seen := map[string]bool{}
	for _, k := range t.rows {
		f, _, _ := strings.Cut(k.Name, " ")
		if !seen[f] {
			seen[f] = true
			first = append(first, f)
		}
	}
	return Suggest(word, first)
}

// Suggest returns the candidate closest to word by edit distance, or ""
// when the best one needs more edits than a typo plausibly makes.
func Suggest(word string, candidates []string) string {
	best, bestD := "", 1<<30
	lw := strings.ToLower(word)
	for _, c := range candidates {
		d := editDistance(lw, strings.ToLower(c))
		if d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	// Short words are too easily "close" to anything.
	limit := 1
	switch {
	case len(word) >= 8:
		limit = 3
	case len(word) >= 5:
		limit = 2
	}
	if bestD == 0 || bestD > limit {
		return ""
	}
	return best
}

// editDistance is the Damerau-Levenshtein (optimal string alignment)
// distance, so a swapped pair of letters counts as one typo.
func editDistance(a, b string) int {
	if a == b {
		return 0
	}
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// Record counts one directive in the summary and, unless it is plainly
// supported, adds a finding for the migration report.
func (r *Report) Record(pos parser.Pos, section, keyword string, s Status, note string) {
	r.Summary.Add(s)
	if s == Supported {
		return
	}
	r.Findings = append(r.Findings, Finding{
		Pos: pos, File: pos.File, Line: pos.Line,
		Section: section, Keyword: keyword, Status: s, Note: note,
	})
}

// Alertf adds a fatal diagnostic at pos.
func (r *Report) Alertf(pos parser.Pos, format string, a ...any) {
	r.Diags = append(r.Diags, Diagnostic{Pos: pos, Sev: parser.SevAlert, Msg: fmt.Sprintf(format, a...)})
}

// Warnf adds a warning at pos.
func (r *Report) Warnf(pos parser.Pos, format string, a ...any) {
	r.Diags = append(r.Diags, Diagnostic{Pos: pos, Sev: parser.SevWarning, Msg: fmt.Sprintf(format, a...)})
}

// haloNotef adds halo's compatibility note at pos: a warning of its own
// category (Diagnostic.Halo), not one of the original tool.
func (r *Report) haloNotef(pos parser.Pos, format string, a ...any) {
	r.Diags = append(r.Diags, Diagnostic{Pos: pos, Sev: parser.SevWarning, Halo: true, Msg: fmt.Sprintf(format, a...)})
}

// haloRefusef adds halo's refusal of a keyword it does not run (fatal at
// -c; a finding of the report).
func (r *Report) haloRefusef(pos parser.Pos, format string, a ...any) {
	r.Diags = append(r.Diags, Diagnostic{Pos: pos, Sev: parser.SevAlert, Halo: true, Msg: fmt.Sprintf(format, a...)})
}

// Noticef adds a notice at pos.
func (r *Report) Noticef(pos parser.Pos, format string, a ...any) {
	r.Diags = append(r.Diags, Diagnostic{Pos: pos, Sev: parser.SevNotice, Msg: fmt.Sprintf(format, a...)})
}
