package stats

import (
	"bytes"
	"strconv"
)

// renderStickTables writes the "sticktable" scope of the exporter: each
// table's size and entries in use, the last declared first (as HAProxy's
// show table), nothing at all without tables.
func (p *Prometheus) renderStickTables(b *bytes.Buffer) {
	tabs := p.st.stickTables().Tables()
	if len(tabs) == 0 {
		return
	}
	for _, m := range [...]struct{ name, help string }{
		{"haproxy_sticktable_size", "Stick table size."},
		{"haproxy_sticktable_used", "Number of entries used in this stick table."},
	} {
		b.WriteString("# HELP " + m.name + " " + m.help + "\n# TYPE " + m.name + " gauge\n")
		for i := len(tabs) - 1; i >= 0; i-- {
			t := tabs[i]
			v := t.Size()
			if m.name == "haproxy_sticktable_used" {
				v = t.Used()
			}
			b.WriteString(m.name + `{name="` + promEscape(t.Spec.Name) + `",type="` + t.Spec.Type.String() + `"} `)
			b.WriteString(strconv.FormatInt(v, 10))
			b.WriteByte('\n')
		}
	}
}
