package stats

import (
	"fmt"
	"strings"

	"halo/proxy/stick"
)

// The stick table commands of the runtime API (management.txt §9.3 "show
// table", "clear table", "set table"), answering as HAProxy 2.6 does.

func tableCommands() []command {
	return []command{
		{[]string{"show", "table"}, "show table <table> [<filter>]*", "report table usage stats or dump this table's contents (filter: data/key)", LevelUser, cmdShowTable},
		{[]string{"clear", "table"}, "clear table <table> [<filter>]*", "remove an entry from a table (filter: data/key)", LevelOperator, cmdClearTable},
		{[]string{"set", "table"}, "set table <table> key <k> [data.* <v>]*", "update or create a table entry's data", LevelOperator, cmdSetTable},
	}
}

type tableAction int

const (
	actShow tableAction = iota
	actClear
	actSet
)

func (s *Stats) stickTables() *stick.Set {
	if s.tables == nil {
		return nil
	}
	return s.tables()
}

func cmdShowTable(s *Stats, sess *Session, args []string) string {
	return s.tableCmd(actShow, sess, args)
}

func cmdClearTable(s *Stats, sess *Session, args []string) string {
	return s.tableCmd(actClear, sess, args)
}

func cmdSetTable(s *Stats, sess *Session, args []string) string {
	return s.tableCmd(actSet, sess, args)
}

// tableCmd is HAProxy's cli_parse_table_req and what follows it. args
// are the words after "show table" (the table, then filters).
func (s *Stats) tableCmd(act tableAction, sess *Session, args []string) string {
	set := s.stickTables()
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	if arg(0) == "" {
		if act != actShow {
			return tableArgsErr(act)
		}
		// every table's header, the last declared first
		var b []byte
		tabs := set.Tables()
		for i := len(tabs) - 1; i >= 0; i-- {
			b = tabs[i].AppendHead(b)
		}
		return string(b) + "\n"
	}
	t := set.Table(arg(0))
	if t == nil {
		return "No such table\n\n"
	}
	var filters []stick.Filter
	switch {
	case arg(1) == "key":
		return s.tableKey(act, sess, t, args)
	case strings.HasPrefix(arg(1), "data."):
		if act != actShow && act != actClear {
			return "content-based lookup is only supported with the \"show\" and \"clear\" actions\n\n"
		}
		i := 0
		for ; i < 4; i++ {
			w := arg(1 + 3*i)
			if i > 0 && w == "" {
				break
			}
			dt, ok := stick.ParseDataType(strings.TrimPrefix(w, "data."))
			if !ok || !strings.HasPrefix(w, "data.") {
				return fmt.Sprintf("Filter entry #%d: Unknown data type\n\n", i+1)
			}
			if !t.Stores(dt) {
				return fmt.Sprintf("Filter entry #%d: Data type not stored in this table\n\n", i+1)
			}
			op, ok := stick.ParseOp(arg(2 + 3*i))
			if !ok {
				return fmt.Sprintf("Filter entry #%d: Require and operator among \"eq\", \"ne\", \"le\", \"ge\", \"lt\", \"gt\"\n\n", i+1)
			}
			v, ok := stick.ParseLL(arg(3 + 3*i))
			if !ok {
				return fmt.Sprintf("Filter entry #%d: Require a valid integer value to compare against\n\n", i+1)
			}
			filters = append(filters, stick.Filter{Type: dt, Op: op, Value: v})
		}
		if w := arg(1 + 3*i); w != "" {
			return fmt.Sprintf("Detected extra data in filter, %dth word of input, after '%s'\n\n", 3+3*i+1, arg(3*i))
		}
	case arg(1) != "":
		return tableArgsErr(act)
	case act == actSet:
		// a table without a key: nothing to set
		return "\n"
	}
	if act == actClear {
		// HAProxy 2.6 checks a clear's filters and then clears every
		// entry not in use, matching or not (recorded on 2.6.12).
		filters = nil
	}
	refs := t.Entries(filters)
	var b []byte
	if act == actShow {
		b = t.AppendHead(b)
	}
	for _, r := range refs {
		switch {
		case act == actShow && sess.Level >= LevelOperator:
			b = t.AppendEntry(b, r, 1)
			t.Release(r)
		case act == actClear:
			t.Kill(r)
		default:
			t.Release(r)
		}
	}
	return string(b) + "\n"
}

func tableArgsErr(act tableAction) string {
	switch act {
	case actShow:
		return "Optional argument only supports \"data.<store_data_type>\" <operator> <value> and key <key>\n\n"
	case actClear:
		return "Required arguments: <table> \"data.<store_data_type>\" <operator> <value> or <table> key <key>\n\n"
	}
	return "Required arguments: <table> key <key> [data.<store_data_type> <value>]*\n\n"
}

// tableKey is table_process_entry_per_key: one entry by its key.
func (s *Stats) tableKey(act tableAction, sess *Session, t *stick.Table, args []string) string {
	if len(args) < 3 || args[2] == "" {
		return "Key value expected\n\n"
	}
	key, err := t.ParseCLIKey(args[2])
	if stick.IsBinaryKeyErr(err) {
		switch act {
		case actShow:
			return "Showing keys from tables of type other than ip, ipv6, string and integer is not supported\n\n"
		case actClear:
			return "Removing keys from tables of type other than ip, ipv6, string and integer is not supported\n\n"
		}
		return "Inserting keys into tables of type other than ip, ipv6, string and integer is not supported\n\n"
	}
	if err != nil {
		return err.Error() + "\n\n"
	}
	switch act {
	case actShow:
		r := t.Lookup(key)
		if r == 0 {
			return "\n"
		}
		b := t.AppendHead(nil)
		if sess.Level >= LevelOperator {
			b = t.AppendEntry(b, r, 1)
		}
		t.Release(r)
		return string(b) + "\n"
	case actClear:
		r := t.Lookup(key)
		if r == 0 {
			return "\n"
		}
		if !t.Kill(r) {
			return "Entry currently in use, cannot remove\n\n"
		}
		return "\n"
	}
	r := t.Get(key)
	if r == 0 {
		return "Unable to allocate a new entry\n\n"
	}
	defer func() {
		t.Touch(r)
		t.Release(r)
	}()
	for i := 3; i < len(args) && args[i] != ""; i += 2 {
		if !strings.HasPrefix(args[i], "data.") {
			return "\"data.<type>\" followed by a value expected\n\n"
		}
		dt, ok := stick.ParseDataType(args[i][len("data."):])
		if !ok {
			return "Unknown data type\n\n"
		}
		if !t.Stores(dt) {
			return "Data type not stored in this table\n\n"
		}
		v := ""
		if i+1 < len(args) {
			v = args[i+1]
		}
		n, ok := stick.ParseLL(v)
		if !ok {
			return "Require a valid integer value to store\n\n"
		}
		t.SetData(r, dt, n)
	}
	return "\n"
}
