package acl

import (
	"fmt"
	"io"
	"os"
)

// debugConvs is debug([prefix],[destination]): it passes the sample on
// and writes "[debug] prefix: type=T <value>" to the destination, as
// HAProxy does. HAProxy's default destination, the ring buffer buf0 read
// by the CLI's "show events", does not exist in halo: messages for rings
// are dropped (reported partial); stdout and stderr receive them.
func debugConvs() []*convDef {
	return []*convDef{
		{name: "debug", maxArgs: 2, out: KStr, note: "messages for ring buffers (buf0, the default) are not kept; stdout and stderr get them",
			compile: func(cv *conv, o *Options) error {
				dest := "buf0"
				if len(cv.args) > 1 && cv.args[1] != "" {
					dest = cv.args[1]
				}
				switch dest {
				case "stdout":
					cv.ref = io.Writer(os.Stdout)
				case "stderr":
					cv.ref = io.Writer(os.Stderr)
				}
				return nil
			}, fn: func(c *Ctx, cv *conv, v Value) (Value, bool) {
				w, ok := cv.ref.(io.Writer)
				if !ok {
					return v, true
				}
				prefix := ""
				if len(cv.args) > 0 {
					prefix = cv.args[0]
				}
				fmt.Fprintf(w, "[debug] %s: type=%s <%s>\n", prefix, debugType(v), debugText(v))
				return v, true
			}},
	}
}

func debugType(v Value) string {
	switch v.Kind {
	case KInt:
		return "sint"
	case KBool:
		return "bool"
	case KIP:
		if v.IP.Is4() {
			return "ipv4"
		}
		return "ipv6"
	case KBin:
		return "bin"
	}
	return "str"
}

// debugText prints a sample as HAProxy's debug converter: text ends at a
// NUL byte and other unprintable bytes show as '.'.
func debugText(v Value) []byte {
	if v.Kind != KStr && v.Kind != KBin {
		return v.AppendText(nil)
	}
	out := make([]byte, 0, len(v.B))
	for _, ch := range v.B {
		if ch == 0 {
			break
		}
		if ch < 0x20 || ch >= 0x7f {
			ch = '.'
		}
		out = append(out, ch)
	}
	return out
}
