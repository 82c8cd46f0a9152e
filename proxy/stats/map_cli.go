package stats

import (
	"fmt"
	"strconv"
	"strings"

	"halo/proxy/acl"
)

// The map and ACL commands of the runtime API (management.txt §9.3 "show
// map", "add acl", "prepare map", …), answering as HAProxy 2.6.12 does.
// They edit the runtime's pattern references (proxy/acl/patref.go), which
// swap the compiled sets in atomically.

func mapCommands() []command {
	mk := func(words []string, usage, help string, lvl Level, fn func(s *Stats, sess *Session, isMap bool, args []string) string, isMap bool) command {
		return command{words, usage, help, lvl, func(s *Stats, sess *Session, args []string) string { return fn(s, sess, isMap, args) }}
	}
	return []command{
		mk([]string{"show", "acl"}, "show acl [@<ver>] <acl>]", "report available acls or dump an acl's contents", LevelUser, cmdShowPat, false),
		mk([]string{"show", "map"}, "show map [@ver] [map]", "report available maps or dump a map's contents", LevelUser, cmdShowPat, true),
		mk([]string{"add", "acl"}, "add acl [@<ver>] <acl> <pattern>", "add an acl entry", LevelOperator, cmdAddPat, false),
		mk([]string{"add", "map"}, "add map [@<ver>] <map> <key> <val>", "add a map entry (payload supported instead of key/val)", LevelOperator, cmdAddPat, true),
		mk([]string{"del", "acl"}, "del acl <acl> [<key>|#<ref>]", "delete acl entries matching <key>", LevelOperator, cmdDelPat, false),
		mk([]string{"del", "map"}, "del map <map> [<key>|#<ref>]", "delete map entries matching <key>", LevelOperator, cmdDelPat, true),
		mk([]string{"set", "map"}, "set map <map> [<key>|#<ref>] <value>", "modify a map entry", LevelOperator, cmdSetPat, true),
		mk([]string{"clear", "acl"}, "clear acl [@<ver>] <acl>", "clear the contents of this acl", LevelOperator, cmdClearPat, false),
		mk([]string{"clear", "map"}, "clear map [@<ver>] <map>", "clear the contents of this map", LevelOperator, cmdClearPat, true),
		mk([]string{"prepare", "acl"}, "prepare acl <acl>", "prepare a new version for atomic ACL replacement", LevelOperator, cmdPreparePat, false),
		mk([]string{"prepare", "map"}, "prepare map <acl>", "prepare a new version for atomic map replacement", LevelOperator, cmdPreparePat, true),
		mk([]string{"commit", "acl"}, "commit acl @<ver> <acl>", "commit the ACL at this version", LevelOperator, cmdCommitPat, false),
		mk([]string{"commit", "map"}, "commit map @<ver> <map>", "commit the map at this version", LevelOperator, cmdCommitPat, true),
	}
}

func (s *Stats) patRefs() *acl.PatRefs {
	if s.refs == nil {
		return nil
	}
	return s.refs()
}

func unknownPat(isMap bool) string {
	if isMap {
		return "Unknown map identifier. Please use #<id> or <file>.\n\n"
	}
	return "Unknown ACL identifier. Please use #<id> or <file>.\n\n"
}

// patVersion reads a leading "@<ver>".
func patVersion(args []string) (ver uint, cur bool, rest []string, ok bool) {
	if len(args) > 0 && strings.HasPrefix(args[0], "@") {
		n, err := strconv.ParseUint(args[0][1:], 10, 32)
		if err != nil {
			return 0, false, args, false
		}
		return uint(n), false, args[1:], true
	}
	return 0, true, args, true
}

func (s *Stats) lookupPat(name string, isMap bool) *acl.PatRef {
	refs := s.patRefs()
	if refs == nil {
		return nil
	}
	return refs.Lookup(name, isMap)
}

func cmdShowPat(s *Stats, sess *Session, isMap bool, args []string) string {
	ver, cur, args, ok := patVersion(args)
	if !ok {
		return "Invalid version specified.\n\n"
	}
	if len(args) == 0 {
		var b strings.Builder
		b.WriteString("# id (file) description\n")
		if refs := s.patRefs(); refs != nil {
			for _, r := range refs.Refs(isMap) {
				c, n := r.Versions()
				fmt.Fprintf(&b, "%d (%s) %s curr_ver=%d next_ver=%d entry_cnt=%d\n", r.ID, r.File, r.Desc, c, n, r.Count())
			}
		}
		return b.String() + "\n"
	}
	r := s.lookupPat(args[0], isMap)
	if r == nil {
		return unknownPat(isMap)
	}
	var b strings.Builder
	for _, e := range r.Entries(ver, cur) {
		if isMap {
			fmt.Fprintf(&b, "0x%x %s %s\n", e.Addr, e.Key, e.Val)
		} else {
			fmt.Fprintf(&b, "0x%x %s\n", e.Addr, e.Key)
		}
	}
	return b.String() + "\n"
}

func cmdAddPat(s *Stats, sess *Session, isMap bool, args []string) string {
	ver, cur, args, ok := patVersion(args)
	if !ok {
		return "Invalid version specified.\n\n"
	}
	usage := "'add acl' expects two parameters: ACL identifier and pattern.\n\n"
	if isMap {
		usage = "'add map' expects three parameters (map identifier, key and value) or one parameter (map identifier) and a payload\n\n"
	}
	var pairs [][2]string
	switch {
	case len(args) >= 1 && sess.Payload != "":
		for _, l := range strings.Split(sess.Payload, "\n") {
			l = strings.TrimSpace(l)
			if l == "" {
				continue
			}
			k, v, _ := strings.Cut(l, " ")
			if !isMap {
				k, v = l, ""
			}
			pairs = append(pairs, [2]string{k, strings.TrimLeft(v, " \t")})
		}
	case isMap && len(args) >= 3:
		pairs = append(pairs, [2]string{args[1], strings.Join(args[2:], " ")})
	case !isMap && len(args) >= 2:
		pairs = append(pairs, [2]string{args[1], ""})
	default:
		return usage
	}
	r := s.lookupPat(args[0], isMap)
	if r == nil {
		return unknownPat(isMap)
	}
	if !cur && !r.CheckVersion(ver) {
		return "This version is not prepared or is too old.\n\n"
	}
	for _, p := range pairs {
		if err := r.Add(ver, cur, p[0], p[1]); err != nil {
			return err.Error() + "\n\n"
		}
	}
	return "\n"
}

func cmdDelPat(s *Stats, sess *Session, isMap bool, args []string) string {
	if len(args) < 2 {
		if isMap {
			return "This command expects two parameters: map identifier and key.\n\n"
		}
		return "This command expects two parameters: ACL identifier and key.\n\n"
	}
	r := s.lookupPat(args[0], isMap)
	if r == nil {
		return unknownPat(isMap)
	}
	if !r.Del(args[1]) {
		return "Key not found.\n\n"
	}
	return "\n"
}

func cmdSetPat(s *Stats, sess *Session, isMap bool, args []string) string {
	if len(args) < 3 {
		return "'set map' expects three parameters: map identifier, key and value.\n\n"
	}
	r := s.lookupPat(args[0], isMap)
	if r == nil {
		return unknownPat(isMap)
	}
	found, err := r.Set(args[1], strings.Join(args[2:], " "))
	if !found {
		return "entry not found.\n\n"
	}
	if err != nil {
		return err.Error() + "\n\n"
	}
	return "\n"
}

func cmdClearPat(s *Stats, sess *Session, isMap bool, args []string) string {
	ver, cur, args, ok := patVersion(args)
	if !ok {
		return "Invalid version specified.\n\n"
	}
	if len(args) < 1 {
		return "Missing map identifier.\n\n"
	}
	r := s.lookupPat(args[0], isMap)
	if r == nil {
		return unknownPat(isMap)
	}
	r.Clear(ver, cur)
	return "\n"
}

func cmdPreparePat(s *Stats, sess *Session, isMap bool, args []string) string {
	if len(args) < 1 {
		return "Missing map identifier.\n\n"
	}
	r := s.lookupPat(args[0], isMap)
	if r == nil {
		return unknownPat(isMap)
	}
	return fmt.Sprintf("New version created: %d\n\n", r.Prepare())
}

func cmdCommitPat(s *Stats, sess *Session, isMap bool, args []string) string {
	ver, cur, args, ok := patVersion(args)
	if !ok || cur || len(args) < 1 {
		return "Missing version number and map identifier.\n\n"
	}
	r := s.lookupPat(args[0], isMap)
	if r == nil {
		return unknownPat(isMap)
	}
	if err := r.Commit(ver); err != nil {
		return err.Error() + "\n\n"
	}
	return "\n"
}
