package track

import (
	"strings"
	"testing"
)

// FuzzSplitCommand: any script line splits without panicking, and a line of
// plain words (no quotes, escapes or tabs) splits on spaces exactly, bytes
// kept as they are.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{"/usr/bin/killall -0 haproxy", `/bin/sh -c "a b"`, `a\ b 'c d'`, `"unterminated`, `\`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := SplitCommand(s)
		if !strings.ContainsAny(s, "\"'\\\t") {
			want := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' })
			if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
				t.Fatalf("SplitCommand(%q) = %q, want %q", s, got, want)
			}
		}
	})
}

// FuzzReadValue: track file contents of any shape never panic.
func FuzzReadValue(f *testing.F) {
	f.Add("12\n")
	f.Add("-5 trailing")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		dir := t.TempDir()
		if err := writeFile(dir+"/v", s); err != nil {
			t.Skip()
		}
		_ = ReadValue(dir + "/v")
	})
}
