package compat

import (
	"fmt"
	"strings"

	"halo/parser"
	"halo/proxy"
)

func (c *hctx) openUserlist(d *parser.Directive) bool {
	if len(d.Args) == 0 {
		c.rep.Alertf(d.Pos, "'userlist' expects <name> as arguments.")
		return false
	}
	name := d.Args[0].Value
	if _, dup := c.cfg.Userlists[name]; dup {
		c.tightWarn(d.Pos, "ignoring duplicated userlist '%s'.", name)
		return false
	}
	c.userlist = &proxy.Userlist{Name: name, Users: map[string]proxy.UserEntry{}, Groups: map[string][]string{}}
	c.cfg.Userlists[name] = c.userlist
	c.rep.Record(d.Pos, "userlist", "userlist", Supported, "")
	return true
}

var userlistTable = NewTable("userlist", []hrow{
	row("group", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) == 0 {
			return fmt.Errorf("'group' expects <name> as arguments.")
		}
		g := a[0].Value
		if _, dup := c.userlist.Groups[g]; dup {
			return fmt.Errorf("%s: group '%s' in userlist '%s' already exists.", "userlist", g, c.userlist.Name)
		}
		var users []string
		for i := 1; i < len(a); i++ {
			if a[i].Value == "users" && i+1 < len(a) {
				users = append(users, strings.Split(a[i+1].Value, ",")...)
				i++
				continue
			}
			return fmt.Errorf("'group' only supports 'users' option.")
		}
		c.userlist.Groups[g] = users
		return nil
	}),
	row("user", func(c *hctx, d *parser.Directive, a []parser.Word) error {
		if len(a) == 0 {
			return fmt.Errorf("'user' expects <name> as arguments.")
		}
		u := a[0].Value
		if _, dup := c.userlist.Users[u]; dup {
			c.tightWarn(d.Pos, "ignoring duplicated user '%s' in userlist '%s'.", u, c.userlist.Name)
			return nil
		}
		var e proxy.UserEntry
		for i := 1; i < len(a); i++ {
			k := a[i].Value
			if i+1 >= len(a) {
				return fmt.Errorf("'%s' expects a value.", k)
			}
			v := a[i+1].Value
			i++
			switch k {
			case "password":
				e.Password = v
				if !strings.HasPrefix(v, "$") {
					c.rep.Warnf(d.Pos, "the encrypted password used for user '%s' is not supported by crypt(3).", u)
				}
			case "insecure-password":
				e.Password, e.Insecure = v, true
			case "groups":
				e.Groups = strings.Split(v, ",")
			default:
				return fmt.Errorf("'user' only supports 'password', 'insecure-password' and 'groups' options.")
			}
		}
		c.userlist.Users[u] = e
		return nil
	}),
})

var httpErrorsTable = NewTable("http-errors", []hrow{
	row("errorfile", decodeErrorfile),
})

// otherSectionStatus says what halo does with the sections it does not
// execute; their lines are counted with the same status.
var otherSectionStatus = map[string]struct {
	status Status
	note   string
}{
	"mailers":     {Ignored, "email alerts are not sent"},
	"ring":        {Ignored, "ring buffers are not implemented; logs sent to ring@ are dropped"},
	"program":     {Unsupported, "halo does not start external programs"},
	"fcgi-app":    {Unsupported, "FastCGI applications are not supported"},
	"log-forward": {Unsupported, "syslog forwarding is not implemented"},
}

// otherSectionKeywords are the keywords haproxy 2.6 accepts in each.
var otherSectionKeywords = map[string][]string{
	"mailers":     {"mailer", "timeout"},
	"ring":        {"description", "format", "maxlen", "size", "timeout", "server"},
	"program":     {"command", "user", "group", "option", "no"},
	"fcgi-app":    {"docroot", "index", "path-info", "log-stderr", "option", "set-param", "pass-header", "acl", "no"},
	"log-forward": {"bind", "dgram-bind", "log", "maxconn", "backlog", "timeout"},
}

var otherSectionTables = buildOtherTables()

func buildOtherTables() map[string]*Table[*hctx] {
	out := map[string]*Table[*hctx]{}
	for sec, kws := range otherSectionKeywords {
		st := otherSectionStatus[sec]
		var rows []hrow
		for _, k := range kws {
			rows = append(rows, hrow{Name: k, Status: st.status, Note: st.note, Decode: func(c *hctx, d *parser.Directive, a []parser.Word) error {
				c.quietStatus = true
				return nil
			}})
		}
		out[sec] = NewTable(sec, rows)
	}
	return out
}
