package compat

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"halo/parser"
	"halo/vrrp"
	"halo/vrrp/track"
)

// KeepalivedOptions tunes LoadKeepalived.
type KeepalivedOptions struct {
	// ConfigID is -i: which "@ID" conditional lines apply ("" = none).
	ConfigID string
	// HostChecks makes the loader check the host as `keepalived -t` does:
	// interfaces exist, scripts exist and are executable, script users
	// exist. `halo compat` (possibly run on another machine) leaves it off.
	HostChecks bool
	// Interfaces lists the host's interface names (nil: ask the kernel).
	Interfaces func() map[string]bool
	// LookupUser resolves a user name to uid/gid (nil: os/user).
	LookupUser func(name string) (uid, gid int, ok bool)
	// Parse is passed to the parser (FS, MaxLines); ConfigID is filled in.
	Parse parser.KeepalivedOptions
}

// ClassExitConfig marks a diagnostic after which keepalived exits at once
// with status 2 (a keyword missing its parameter).
const ClassExitConfig = "EXIT_CONFIG"

// kaClassRank orders keepalived's config_err_t (lib/parser.h). keepalived
// -t keeps the numerically highest level seen, so a security error wins
// over everything and a missing interface alone still exits 5 when any
// other error came with it.
var kaClassRank = map[string]int{
	parser.KaFileNotFound:     1,
	parser.KaBadIf:            2,
	parser.KaFatal:            3,
	parser.KaMultipleFiles:    4,
	parser.KaUnknownKeyword:   5,
	parser.KaUnexpectedBOB:    6,
	parser.KaMissingBOB:       7,
	parser.KaUnexpectedEOB:    8,
	parser.KaMissingEOB:       9,
	parser.KaUnmatchedQuote:   10,
	parser.KaMissingParameter: 11,
	parser.KaInvalidNumber:    12,
	parser.KaGeneralError:     13,
	parser.KaWarning:          14,
	parser.KaDeprecated:       15,
	parser.KaSecurityError:    16,
	parser.KaIncludeError:     17,
}

// KeepalivedTestExit is `keepalived -t`'s exit status for a report: 0
// clean, 4 cannot run, 5 errors but it would run, 6 only script security,
// 2 a keyword without its parameter (keepalived exits there).
func KeepalivedTestExit(r *Report) int {
	worst := 0
	for _, d := range r.Diags {
		if d.Class == ClassExitConfig {
			return 2
		}
		if k := kaClassRank[d.Class]; k > worst {
			worst = k
		}
	}
	switch {
	case worst == 0:
		return 0
	case worst <= kaClassRank[parser.KaFatal]:
		return 4
	case worst >= kaClassRank[parser.KaSecurityError]:
		return 6
	}
	return 5
}

// KeepalivedDiagText renders a diagnostic in keepalived's words:
// "(FILE: Line N) message", with the column and halo's hint added.
func KeepalivedDiagText(d Diagnostic) string {
	var b strings.Builder
	if d.Pos.Line > 0 {
		fmt.Fprintf(&b, "(%s: Line %d", d.Pos.File, d.Pos.Line)
		if d.Pos.Col > 0 {
			fmt.Fprintf(&b, ", col %d", d.Pos.Col)
		}
		b.WriteString(") ")
	}
	if d.Class == "" && d.Sev != parser.SevAlert {
		b.WriteString("halo: ")
	}
	b.WriteString(d.Msg)
	if d.Hint != "" {
		b.WriteString(" (" + d.Hint + ")")
	}
	return b.String()
}

// SortedKeepalivedDiags orders diagnostics by file (in reading order),
// line and column; those without a position (whole-configuration checks)
// come last, in the order they were found.
func SortedKeepalivedDiags(r *Report) []Diagnostic {
	rank := map[string]int{}
	for i, p := range r.Files {
		if _, ok := rank[p]; !ok {
			rank[p] = i
		}
	}
	out := append([]Diagnostic(nil), r.Diags...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Pos, out[j].Pos
		if (a.Line == 0) != (b.Line == 0) {
			return a.Line != 0
		}
		if a.Line == 0 {
			return false
		}
		if rank[a.File] != rank[b.File] {
			return rank[a.File] < rank[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return out
}

// RenderKeepalivedTest writes what `keepalived -t` prints: every
// diagnostic except plain log lines, in keepalived's words.
func RenderKeepalivedTest(w io.Writer, r *Report) {
	for _, d := range SortedKeepalivedDiags(r) {
		if d.Class == "log" {
			continue
		}
		fmt.Fprintln(w, KeepalivedDiagText(d))
	}
}

// kaCtx is the decoding context of one LoadKeepalived call.
type kaCtx struct {
	r    *Report
	opt  KeepalivedOptions
	cfg  *vrrp.Config
	stop bool // keepalived would have exited (status 2)

	inst   *vrrp.Instance
	im     *kaInstMeta
	script *vrrp.Script
	sm     *kaScriptMeta
	sg     *vrrp.SyncGroup
	tf     *vrrp.TrackFile

	instMeta   map[*vrrp.Instance]*kaInstMeta
	scriptMeta map[string]*kaScriptMeta
	sgMeta     map[*vrrp.SyncGroup]parser.Pos
	// sgTrackWeight: the group says sync_group_tracking_weight (or the
	// deprecated global_tracking): its members keep weighted tracking
	sgTrackWeight map[*vrrp.SyncGroup]bool
	sgProcPos     map[*vrrp.SyncGroup][]parser.Pos // a group's track_process lines
	garpGroup     *vrrp.GARPGroup                  // the garp_group being read
	tp            *vrrp.TrackProcess               // the vrrp_track_process being read
	scripts       []kaScriptUse
	global        kaGlobalMeta
	globalLP      kaLowerPrio
	ifaces        map[string]bool
	badIf         bool // an interface named in the configuration is missing
	badIfPos      parser.Pos

	dropped      int    // diagnostics past kaMaxDiags
	droppedClass string // the worst class among them

	depth    int
	closers  map[*parser.Directive]string // stray '}'s, with halo's hint
	escaped  []*parser.Directive
	instSeen map[string]bool
	vs       *kaVServer
	rulePref map[int]int // by family: the preference keepalived gives the next rule without one
	lvsState *kaLVS      // the LVS side (keepalived_lvs.go)
}

type kaGlobalMeta struct {
	scriptUserSet bool
	scriptUserPos parser.Pos
	uid, gid      int
	userOK        bool
}

type kaInstMeta struct {
	pos                       parser.Pos
	vridSet                   bool
	ifacePos                  parser.Pos
	stateMaster               bool
	trackScriptPos            map[string]parser.Pos
	garpDelaySet, garpRepSet  bool
	garpRefSet, garpRefRepSet bool
	garpExtraSet              bool
	acceptSet                 bool
	nativeIPv6                bool
	unicastKw                 bool // unicast_src_ip given (valid or not)
	ttlSet                    bool
	lp                        kaInstLowerPrio
	trackProcessPos           []parser.Pos // of each TrackProcesses entry
}

type kaScriptMeta struct {
	pos     parser.Pos
	userPos parser.Pos
	userSet bool
	used    bool
	removed bool
}

// kaScriptUse is one script keepalived would run, for the security and
// existence checks done after reading the configuration.
type kaScriptUse struct {
	pos     parser.Pos // where keepalived reports user problems
	cmdPos  parser.Pos // the script's own line
	cmd     string
	user    string // "" = default script user
	track   string // vrrp_script name, for track scripts
	uid     int
	hasUser bool
	skip    bool // not run: its user could not be set
}

// LoadKeepalived reads a keepalived.conf and decodes it into a vrrp.Config
// with the diagnostics `keepalived -t` would print (in keepalived's
// words, with halo's notes on what it does not execute). The config is nil
// only when keepalived itself would stop (Report.Fatal).
func LoadKeepalived(path string, opt KeepalivedOptions) (*vrrp.Config, *Report) {
	c, r := loadKeepalived(path, opt)
	if r.Fatal() {
		return nil, r
	}
	return c.cfg, r
}

// loadKeepalived reads and decodes the file; the context holds both
// halves (vrrp in c.cfg, LVS in c.lvsState).
func loadKeepalived(path string, opt KeepalivedOptions) (*kaCtx, *Report) {
	po := opt.Parse
	po.ConfigID = opt.ConfigID
	f, pdiags := parser.ParseKeepalived(path, po)
	r := &Report{Lang: parser.LangKeepalived, Files: f.Paths}
	if len(r.Files) == 0 {
		r.Files = []string{path}
	}
	c := &kaCtx{
		r: r, opt: opt,
		cfg: &vrrp.Config{
			Scripts:    map[string]*vrrp.Script{},
			TrackFiles: map[string]*vrrp.TrackFile{},
		},
		instMeta:      map[*vrrp.Instance]*kaInstMeta{},
		scriptMeta:    map[string]*kaScriptMeta{},
		sgMeta:        map[*vrrp.SyncGroup]parser.Pos{},
		sgTrackWeight: map[*vrrp.SyncGroup]bool{},
		sgProcPos:     map[*vrrp.SyncGroup][]parser.Pos{},
		closers:       map[*parser.Directive]string{},
		rulePref:      map[int]int{4: 16384, 6: 16384},
		instSeen:      map[string]bool{},
	}
	for _, d := range pdiags {
		c.add(Diagnostic{Pos: d.Pos, Sev: d.Sev, Msg: d.Msg, Class: d.Class})
	}
	c.setGlobalDefaults()
	if opt.HostChecks {
		c.ifaces = c.hostInterfaces()
	}
	c.walk(kaTop, &parser.Directive{Body: f.Directives})
	c.resolveScriptUser()
	if !c.stop {
		c.finish()
	}
	c.summariseDropped()
	return c, r
}

func (c *kaCtx) setGlobalDefaults() {
	g := &c.cfg.Global
	g.SMTPConnectTimeout = 30 * time.Second
	g.McastGroup4 = netip.MustParseAddr("224.0.0.18")
	g.McastGroup6 = netip.MustParseAddr("ff02::12")
	g.GARPMasterDelay = 5 * time.Second
	g.GARPMasterRepeat = 5
	g.GARPMasterRefreshRepeat = 1
	g.Version = 2
}

// markBadIf records that a configured interface is missing.
func (c *kaCtx) markBadIf(pos parser.Pos) {
	if !c.badIf {
		c.badIf, c.badIfPos = true, pos
	}
}

// errf reports a keepalived configuration error of the given class.
func (c *kaCtx) errf(pos parser.Pos, class, format string, a ...any) {
	if c.full() {
		c.drop(class)
		return
	}
	c.add(Diagnostic{Pos: pos, Sev: parser.SevWarning, Class: class, Msg: fmt.Sprintf(format, a...)})
}

// logf is a line keepalived logs without counting it as an error.
func (c *kaCtx) logf(pos parser.Pos, format string, a ...any) {
	if c.full() {
		c.drop("log")
		return
	}
	c.add(Diagnostic{Pos: pos, Sev: parser.SevNotice, Class: "log", Msg: fmt.Sprintf(format, a...)})
}

// kaMaxDiags bounds the diagnostics one load keeps: keepalived prints
// its complaints as it goes, halo keeps them for the report, and a ~SEQ
// over a bad line can make a million of them.
const kaMaxDiags = 10000

func (c *kaCtx) full() bool { return len(c.r.Diags) >= kaMaxDiags }

// drop counts a diagnostic past the bound, keeping the worst class so
// that keepalived -t's exit status does not change.
func (c *kaCtx) drop(class string) {
	c.dropped++
	if kaClassRank[class] > kaClassRank[c.droppedClass] || class == ClassExitConfig {
		c.droppedClass = class
	}
}

// add appends a diagnostic within the bound.
func (c *kaCtx) add(d Diagnostic) {
	if c.full() {
		c.drop(d.Class)
		return
	}
	c.r.Diags = append(c.r.Diags, d)
}

// summariseDropped says how many diagnostics were not kept, with the worst
// class among them.
func (c *kaCtx) summariseDropped() {
	if c.dropped == 0 {
		return
	}
	c.r.Diags = append(c.r.Diags, Diagnostic{Sev: parser.SevWarning, Class: c.droppedClass,
		Msg: fmt.Sprintf("%d more diagnostics not shown (halo keeps the first %d)", c.dropped, kaMaxDiags)})
}

// walk decodes a block's statements against a section's table.
//
// keepalived's reader has a quirk walk reproduces: a '{' after a keyword
// that takes no block (or an unknown one) is "unexpected" and ignored, so
// the block's lines are read as if they were in the enclosing block, and
// its '}' then closes the enclosing block early; the statements after it
// are read one level up (at the top level, the '}' is an unknown keyword).
func (c *kaCtx) walk(s *kaSection, block *parser.Directive) {
	c.depth++
	defer func() { c.depth-- }()
	queue := append([]*parser.Directive(nil), block.Body...)
	for len(queue) > 0 {
		if c.stop {
			return
		}
		d := queue[0]
		queue = queue[1:]
		if hint, ok := c.closers[d]; ok {
			if c.depth == 1 {
				c.add(Diagnostic{Pos: d.Pos, Sev: parser.SevWarning, Class: parser.KaUnknownKeyword,
					Msg: "Unknown keyword '}'", Hint: hint})
				continue
			}
			// this block's own '}' is then read one level up
			c.escaped = queue
			if block.End.Line > 0 {
				closer := &parser.Directive{Pos: block.End, Name: "}"}
				name := block.Name
				if len(block.Args) > 0 {
					name += " " + block.Args[0].Value
				}
				c.closers[closer] = fmt.Sprintf("%s already ended at line %d", name, d.Pos.Line)
				c.escaped = append(c.escaped, closer)
			}
			return
		}
		kw := s.tab.Get(d.Name)
		if kw == nil {
			diag := Diagnostic{Pos: d.Pos, Sev: parser.SevWarning, Class: parser.KaUnknownKeyword,
				Msg: fmt.Sprintf("Unknown keyword '%s'", d.Name)}
			if hint := kaRemoved[s.name+" "+d.Name]; hint != "" {
				diag.Hint = hint
			} else if k, v, ok := strings.Cut(d.Name, "="); ok && s.tab.Get(k) != nil {
				diag.Hint = fmt.Sprintf("write '%s %s': keepalived takes no '='", k, v)
			} else if sug := s.tab.Suggest(d.Name); sug != "" {
				diag.Hint = fmt.Sprintf("did you mean '%s'?", sug)
			} else if other := kaWhereElse(s, d.Name); other != "" {
				diag.Hint = fmt.Sprintf("'%s' belongs in %s", d.Name, other)
			} else if len(d.Args) > 0 && s.tab.Get(d.Name+"_"+d.Args[0].Value) != nil {
				diag.Hint = fmt.Sprintf("did you mean '%s_%s'?", d.Name, d.Args[0].Value)
			} else if sug, in := kaSuggestElsewhere(s, d.Name); sug != "" {
				diag.Hint = fmt.Sprintf("did you mean '%s' (a %s keyword)?", sug, in)
			}
			c.add(diag)
			if d.HasBlock {
				c.errf(d.Pos, parser.KaUnexpectedBOB, "Unexpected '{' - ignoring")
				queue = c.inline(d, queue)
			}
			continue
		}
		kind := s.blocks[d.Name]
		stray := false
		switch {
		case kind == kaNoBlock && d.HasBlock:
			c.errf(d.Pos, parser.KaUnexpectedBOB, "Unexpected '{' - ignoring")
			stray = true
		case kind != kaNoBlock && kind != kaOptBlock && !d.HasBlock:
			// keepalived complains at the next line and reads the lines up
			// to the next '}' as the block anyway
			var body []*parser.Directive
			end := parser.Pos{}
			for len(queue) > 0 {
				n := queue[0]
				queue = queue[1:]
				if n.Name == "}" && !n.HasBlock && len(n.Args) == 0 {
					end = n.Pos
					break
				}
				body = append(body, n)
			}
			at := d.Pos
			if len(body) > 0 {
				at = body[0].Pos
			}
			c.errf(at, parser.KaMissingBOB, "Missing '{' at beginning of configuration block")
			nd := *d
			nd.Body, nd.HasBlock, nd.End = body, true, end
			d = &nd
		}
		section := s.name
		if s.lvs && block.Name != "" {
			section = block.Name // TCP_CHECK rather than the shared "checker"
		}
		c.r.Record(d.Pos, section, d.Name, kw.Status, kw.Note)
		if kw.Status != Supported && kw.Note != "" && !s.lvs {
			c.add(Diagnostic{Pos: d.Pos, Sev: parser.SevNotice,
				Msg: fmt.Sprintf("'%s' is %s: %s", d.Name, kw.Status, kw.Note)})
		}
		if kw.Decode != nil {
			if err := kw.Decode(c, d, d.Args); err != nil {
				c.r.Alertf(d.Pos, "%v", err)
			}
		}
		if c.escaped != nil {
			// a nested block ended early: its remaining lines are ours
			queue = append(c.escaped, queue...)
			c.escaped = nil
		}
		if stray {
			queue = c.inline(d, queue)
		}
	}
}

// inline puts a stray block's lines, and its '}', in front of queue.
func (c *kaCtx) inline(d *parser.Directive, queue []*parser.Directive) []*parser.Directive {
	out := append([]*parser.Directive(nil), d.Body...)
	if d.End.Line > 0 {
		closer := &parser.Directive{Pos: d.End, Name: "}"}
		// at the top level this '}' closes nothing; deeper, it ends the
		// enclosing block, whose own '}' then gets the other hint
		c.closers[closer] = fmt.Sprintf("the '{' of line %d was ignored, so this '}' closes nothing", d.Pos.Line)
		out = append(out, closer)
	}
	return append(out, queue...)
}

// arg returns argument i of d (0 = first after the keyword). A missing
// argument makes keepalived print its message and exit with status 2.
func (c *kaCtx) arg(d *parser.Directive, i int) (string, bool) {
	if i < len(d.Args) {
		return d.Args[i].Value, true
	}
	prev := d.Name
	if i > 0 && i-1 < len(d.Args) {
		prev = d.Args[i-1].Value
	}
	c.add(Diagnostic{Pos: d.Pos, Sev: parser.SevAlert, Class: ClassExitConfig,
		Msg: fmt.Sprintf("*** Configuration line starting `%s` is missing a parameter after keyword `%s` at word position %d", d.Name, prev, i+2)})
	c.stop = true
	return "", false
}

// unsigned reads an unsigned number like keepalived's read_unsigned.
func (c *kaCtx) unsigned(pos parser.Pos, s string, lo, hi uint64) (uint64, bool) {
	t := strings.TrimLeft(s, " \t\n\r\f\v")
	if strings.HasPrefix(t, "-") {
		c.errf(pos, parser.KaInvalidNumber, "negative number '%s'", s)
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(t, "+"), 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			c.errf(pos, parser.KaInvalidNumber, "number '%s' outside unsigned integer range", s)
		} else {
			c.errf(pos, parser.KaInvalidNumber, "invalid number '%s'", s)
		}
		return 0, false
	}
	if v > 0xffffffff {
		c.errf(pos, parser.KaInvalidNumber, "number '%s' outside unsigned integer range", s)
		return 0, false
	}
	if v < lo || v > hi {
		c.errf(pos, parser.KaInvalidNumber, "number '%s' outside range [%d, %d]", s, lo, hi)
		return v, false
	}
	return v, true
}

// integer reads a signed number like keepalived's read_int.
func (c *kaCtx) integer(pos parser.Pos, s string, lo, hi int64) (int64, bool) {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			c.errf(pos, parser.KaInvalidNumber, "number '%s' outside integer range", s)
		} else {
			c.errf(pos, parser.KaInvalidNumber, "invalid number '%s'", s)
		}
		return 0, false
	}
	if v < -1<<31 || v > 1<<31-1 {
		c.errf(pos, parser.KaInvalidNumber, "number '%s' outside integer range", s)
		return 0, false
	}
	if v < lo || v > hi {
		c.errf(pos, parser.KaInvalidNumber, "number '%s' outside range [%d, %d]", s, lo, hi)
		return v, false
	}
	return v, true
}

// timer reads a time in (fractional) seconds like keepalived's read_timer.
func (c *kaCtx) timer(pos parser.Pos, s string, lo, hi float64) (time.Duration, bool) {
	if strings.HasPrefix(strings.TrimLeft(s, " \t"), "-") {
		c.errf(pos, parser.KaInvalidNumber, "negative number '%s'", s)
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			c.errf(pos, parser.KaInvalidNumber, "number '%s' out of range", s)
		} else {
			c.errf(pos, parser.KaInvalidNumber, "invalid number '%s'", s)
		}
		return 0, false
	}
	if v != v || v > 1e300 || v < -1e300 {
		c.errf(pos, parser.KaInvalidNumber, "invalid number '%s'", s)
		return 0, false
	}
	if v < lo || v > hi {
		c.errf(pos, parser.KaInvalidNumber, "number '%s' outside range [%s, %s]", s, strconv.FormatFloat(lo, 'f', 6, 64), strconv.FormatFloat(hi, 'f', 6, 64))
		return 0, false
	}
	return time.Duration(v * float64(time.Second)), true
}

// globalBool reads a global_defs on/off flag: no argument means on.
func (c *kaCtx) globalBool(d *parser.Directive) bool {
	if len(d.Args) == 0 {
		return true
	}
	switch d.Args[0].Value {
	case "true", "on", "yes":
		return true
	case "false", "off", "no":
		return false
	}
	c.errf(d.Pos, parser.KaGeneralError, "Invalid value '%s' for global %s specified", d.Args[0].Value, d.Name)
	return true
}

func kaIsFalse(s string) bool { return s == "false" || s == "off" || s == "no" }

// scriptCmd rebuilds a script command from the words after the keyword:
// keepalived joins the (unquoted) words with spaces and later splits the
// result again with shell-like quoting (parser.SplitScript).
func scriptCmd(args []parser.Word) string {
	vals := make([]string, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	return strings.Join(vals, " ")
}

// addScript records a script keepalived would run; user/group follow the
// command when given (notify scripts: "notify_master CMD [user [group]]").
func (c *kaCtx) addScript(d *parser.Directive, args []parser.Word, track string) string {
	if len(args) == 0 {
		return ""
	}
	cmd := args[0].Value
	use := kaScriptUse{pos: d.Pos, cmdPos: d.Pos, cmd: cmd, track: track}
	if len(args) > 1 {
		use.user = args[1].Value
		use.hasUser = true
	}
	c.scripts = append(c.scripts, use)
	return cmd
}

// parseVIP reads one virtual_ipaddress / static_ipaddress line:
// ADDR[/PREFIX] [brd ADDR] [dev IF] [scope S] [label L] [no_dad] …
func (c *kaCtx) parseVIP(d *parser.Directive) (vrrp.VIP, bool) {
	// the line's words are its name and its arguments; no slice is built
	// for them (a ~SEQ can make a million such lines)
	nw := 1 + len(d.Args)
	word := func(i int) string {
		if i == 0 {
			return d.Name
		}
		return d.Args[i-1].Value
	}
	var v vrrp.VIP
	a := d.Name
	p, err := parseKaPrefix(a)
	if err != nil {
		c.errf(d.Pos, parser.KaGeneralError, "VRRP parsed invalid IP %s. skipping IP...", a)
		return v, false
	}
	v.Prefix = p
	for i := 1; i < nw; i++ {
		w := word(i)
		next := func() string {
			if i+1 < nw {
				i++
				return word(i)
			}
			c.errf(d.Pos, parser.KaGeneralError, "%s requires a parameter", w)
			return ""
		}
		switch w {
		case "brd":
			b := next()
			if ba, err := netip.ParseAddr(b); err == nil {
				v.Broadcast = ba
			} else if b != "" && b != "+" && b != "-" {
				c.errf(d.Pos, parser.KaGeneralError, "Invalid broadcast address %s for VIP - ignoring", b)
			}
		case "dev":
			v.Dev = next()
			if c.ifaces != nil && v.Dev != "" && !c.ifaces[v.Dev] {
				c.errf(d.Pos, parser.KaGeneralError, "WARNING - interface %s for ip address %s doesn't exist", v.Dev, a)
				c.markBadIf(d.Pos)
			}
		case "scope":
			v.Scope = next()
		case "label":
			v.Label = next()
		case "no_dad":
			v.NoDAD = true
		case "home", "nodad", "noprefixroute", "autojoin", "preferred_lft", "track", "use_vmac", "use_ipvlan":
			// accepted address flags halo does not apply
			if w == "preferred_lft" {
				next()
			}
		default:
			c.errf(d.Pos, parser.KaGeneralError, "Unknown configuration entry '%s' for ip address - ignoring", w)
		}
	}
	return v, true
}

// parseKaPrefix reads ADDR or ADDR/LEN; a bare address is a host prefix.
func parseKaPrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseRoute reads one virtual_routes / static_routes line.
func (c *kaCtx) parseRoute(d *parser.Directive) (kaRoute, bool) {
	words := append([]parser.Word{{Pos: d.Pos, Value: d.Name}}, d.Args...)
	var rt kaRoute
	i := 0
	switch words[0].Value {
	case "blackhole", "unreachable", "prohibit", "throw":
		rt.Blackhole = true
		i++
	case "src":
		if len(words) > 1 {
			rt.Src, _ = netip.ParseAddr(words[1].Value)
		}
		i += 2
	}
	if i >= len(words) {
		c.errf(d.Pos, parser.KaGeneralError, "Route has no destination")
		return rt, false
	}
	dst := words[i].Value
	rt.Written = dst
	if dst == "default" {
		dst = "0.0.0.0/0"
	}
	p, err := parseKaPrefix(dst)
	if err != nil {
		c.errf(d.Pos, parser.KaGeneralError, "Invalid route destination %s - ignoring", words[i].Value)
		return rt, false
	}
	rt.Dst = p
	for i++; i < len(words); i++ {
		w := words[i].Value
		val := ""
		if i+1 < len(words) {
			val = words[i+1].Value
		}
		switch w {
		case "via", "gw":
			if w == "gw" {
				c.errf(d.Pos, parser.KaDeprecated, "\"gw\" for routes is deprecated. Please use \"via\"")
			}
			rt.Via, _ = netip.ParseAddr(val)
			i++
		case "src":
			rt.Src, _ = netip.ParseAddr(val)
			i++
		case "dev", "oif":
			rt.Dev = val
			i++
			if c.ifaces != nil && val != "" && !c.ifaces[val] {
				c.errf(d.Pos, parser.KaGeneralError, "WARNING - interface %s for VROUTE nexthop doesn't exist", val)
				c.markBadIf(d.Pos)
			}
		case "metric", "preference", "priority":
			n, _ := strconv.Atoi(val)
			rt.Metric = n
			i++
		case "table":
			n, err := strconv.Atoi(val)
			if err != nil {
				n = kaRouteTable(val)
			}
			rt.Table = n
			i++
		case "scope":
			rt.Scope = val
			i++
		case "or":
			c.errf(d.Pos, parser.KaDeprecated, "\"or\" for routes is deprecated. Please use \"nexthop\"")
		case "no_track":
			rt.NoTrack = true
		case "blackhole", "onlink":
		default:
			// other `ip route` options (proto, mtu, nexthop…) take one value
			i++
		}
	}
	return rt, true
}

// kaRoute is a route as read, with what keepalived's messages need.
type kaRoute struct {
	vrrp.Route
	Written string // the destination as written ("default", …)
	NoTrack bool
}

func kaRouteTable(name string) int {
	switch name {
	case "main":
		return 254
	case "local":
		return 255
	case "default":
		return 253
	}
	return 0
}

// trackRef reads "NAME [weight N [reverse]]" in a track_* block.
// The weight is read in [-254, 254] and must then be within [-253, 253];
// badWeight words the complaint for the kind of tracked object, and the
// entry is kept without the weight, as keepalived keeps it.
func (c *kaCtx) trackRef(d *parser.Directive, badWeight func(w string) string) (t vrrp.TrackRef, ok bool) {
	t = vrrp.TrackRef{Name: d.Name}
	for i := 0; i < len(d.Args); i++ {
		switch d.Args[i].Value {
		case "weight":
			if i+1 < len(d.Args) {
				i++
				w := d.Args[i].Value
				n, good := c.integer(d.Pos, w, -254, 254)
				if !good || n < -253 || n > 253 {
					if badWeight != nil {
						c.errf(d.Pos, parser.KaGeneralError, "%s", badWeight(w))
					}
					continue
				}
				t.Weight, t.HasWeight = int(n), true
			}
		case "reverse":
			t.Reverse = true
		}
	}
	return t, true
}

// finish resolves references and validates the whole configuration, the
// checks keepalived makes once everything is read (vrrp_complete_init,
// check_script_secure, …).
func (c *kaCtx) finish() {
	c.resolveScriptUsers()
	// keepalived's vrrp process stops checking at a missing interface; the
	// config is still completed, since halo runs it (the instance starts
	// in FAULT, as keepalived's would).
	quiet := c.badIf
	say := func(pos parser.Pos, class, format string, a ...any) {
		if !quiet {
			c.errf(pos, class, format, a...)
		}
	}
	if c.badIf {
		c.errf(c.badIfPos, parser.KaBadIf, "Non-existent interface specified in configuration")
	} else if len(c.instSeen) > 0 {
		// keepalived checks scripts before completing the instances; with
		// no vrrp_instance at all its VRRP process has nothing to run and
		// checks no script (a stray vrrp_script in an LVS-only file exits
		// 0, not 6).
		c.checkScripts()
	}
	// an instance without a VRID stops keepalived's checks of the others
	for _, in := range c.cfg.Instances {
		if !c.instMeta[in].vridSet {
			quiet = true
		}
	}
	names := map[string]bool{}
	valid := c.cfg.Instances[:0]
	for _, in := range c.cfg.Instances {
		m := c.instMeta[in]
		// track_script references (keepalived resolves them while reading)
		keptS := in.TrackScripts[:0]
		for _, t := range in.TrackScripts {
			if sc := c.cfg.Scripts[t.Name]; sc == nil || c.scriptMeta[t.Name].removed {
				c.errf(m.trackScriptPos[t.Name], parser.KaGeneralError, "(%s) track script %s not found, ignoring...", in.Name, t.Name)
				continue
			}
			c.scriptMeta[t.Name].used = true
			keptS = append(keptS, t)
		}
		in.TrackScripts = keptS
		c.resolveTrackProcesses(in, m)
		if !m.vridSet {
			// keepalived drops the instance
			if !c.badIf {
				c.errf(m.pos, parser.KaGeneralError, "(%s) the virtual router id must be set", in.Name)
			}
			continue
		}
		valid = append(valid, in)
		names[in.Name] = true
		if len(in.VIPs) == 0 {
			need := "sensible"
			if m.nativeIPv6 || c.cfg.Global.Strict {
				need = "required"
			}
			say(m.pos, parser.KaGeneralError, "(%s) No VIP specified; at least one is %s", in.Name, need)
		}
		if m.unicastKw && len(in.UnicastPeers) == 0 {
			say(m.pos, parser.KaGeneralError, "(%s) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration.", in.Name)
		}
		if m.ttlSet && len(in.UnicastPeers) == 0 {
			say(m.pos, parser.KaGeneralError, "(%s): Cannot use unicast_ttl without unicast peers - resetting", in.Name)
			in.UnicastTTL = 0
		}
		if in.Interface == "" && len(in.UnicastPeers) == 0 {
			say(m.pos, parser.KaGeneralError, "(%s) Unknown interface!", in.Name)
		}
		if in.AuthType != "" && c.cfg.Global.Strict {
			say(m.pos, parser.KaGeneralError, "(%s) Strict mode does not support authentication. Ignoring.", in.Name)
			in.AuthType, in.AuthPass = "", ""
		}
		if in.AuthType != "" && in.Version == 3 {
			say(m.pos, parser.KaGeneralError, "(%s) VRRP version 3 does not support authentication. Ignoring.", in.Name)
			in.AuthType, in.AuthPass = "", ""
		}
		if in.AuthType != "" && in.AuthPass == "" && in.AuthType == "PASS" {
			say(m.pos, parser.KaGeneralError, "(%s) Authentication specified but no password given. Ignoring", in.Name)
			in.AuthType = ""
		}
		if c.cfg.Global.Strict && m.stateMaster && in.Priority != 255 {
			say(m.pos, parser.KaGeneralError, "(%s) State MASTER must match being address owner", in.Name)
			in.InitialState = vrrp.StateBackup
			m.stateMaster = false
		}
		if in.Priority == 255 {
			// the address owner starts as MASTER whatever state says
			in.InitialState = vrrp.StateMaster
		}
		if in.AuthType == "AH" && m.stateMaster {
			say(m.pos, parser.KaGeneralError, "(%s) Initial state master is incompatible with AH authentication - clearing", in.Name)
			in.InitialState = vrrp.StateBackup
			m.stateMaster = false
		}
		if m.stateMaster && in.NoPreempt {
			say(m.pos, parser.KaGeneralError, "(%s) Warning - nopreempt will not work with initial state MASTER - clearing", in.Name)
			in.NoPreempt = false
		}
		if m.stateMaster && in.PreemptDelay > 0 {
			say(m.pos, parser.KaGeneralError, "(%s) Warning - preempt delay will not work with initial state MASTER - clearing", in.Name)
			in.PreemptDelay = 0
		}
		if in.PreemptDelay > 0 && c.cfg.Global.Strict {
			say(m.pos, parser.KaGeneralError, "(%s) preempt_delay is incompatible with strict mode - resetting", in.Name)
			in.PreemptDelay = 0
		} else if in.PreemptDelay > 0 && in.NoPreempt {
			say(m.pos, parser.KaGeneralError, "(%s) preempt_delay is incompatible with nopreempt mode - resetting", in.Name)
			in.PreemptDelay = 0
		}
		kept := in.TrackInterfaces[:0]
		for _, t := range in.TrackInterfaces {
			if t.Name == in.Interface && (c.ifaces == nil || c.ifaces[t.Name]) {
				say(m.pos, parser.KaGeneralError, "(%s) Ignoring track_interface %s since own interface", in.Name, t.Name)
				continue
			}
			kept = append(kept, t)
		}
		in.TrackInterfaces = kept
		if in.Family == 0 {
			in.Family = 4
			if len(in.VIPs) > 0 && in.VIPs[0].Prefix.Addr().Is6() {
				in.Family = 6
			}
		}
		c.instanceGlobals(in, m)
		c.resolveLowerPrio(in, m, say)
		c.fitVIPs(in, m, say)
		if in.VMACXmitBase && in.UseVMAC == "" {
			say(m.pos, parser.KaGeneralError, "(%s) vmac_xmit_base is only valid with a vmac", in.Name)
			in.VMACXmitBase = false
		}
		if in.VMACXmitBase && c.cfg.Global.Strict {
			say(m.pos, parser.KaGeneralError, "(%s) xmit_base is incompatible with strict mode - resetting", in.Name)
			in.VMACXmitBase = false
		}
		if in.UseVMAC == "vrrp." {
			in.UseVMAC = fmt.Sprintf("vrrp.%d", in.VRID) // keepalived's name when none is given
		}
		if in.Version == 2 && in.AdvertInt%time.Second != 0 {
			say(m.pos, parser.KaGeneralError, "(%s) VRRPv2 advertisement interval %fs must be an integer. rounding", in.Name, in.AdvertInt.Seconds())
			in.AdvertInt = in.AdvertInt.Round(time.Second)
			if in.AdvertInt < time.Second {
				in.AdvertInt = time.Second
			}
		}
	}
	c.cfg.Instances = valid
	// two instances on one interface and family need different VRIDs
	type vridKey struct {
		iface   string
		family  int
		vrid    int
		unicast bool
	}
	byVRID := map[vridKey]*vrrp.Instance{}
	for _, in := range valid {
		k := vridKey{in.Interface, in.Family, in.VRID, len(in.UnicastPeers) > 0}
		if k.unicast {
			continue
		}
		if o := byVRID[k]; o != nil {
			// keepalived names the previous user of the VRID
			say(c.instMeta[in].pos, parser.KaGeneralError, "%s and %s both use VRID %d with IPv%d on interface %s", o.Name, in.Name, in.VRID, in.Family, in.Interface)
		}
		byVRID[k] = in
	}
	inGroup := map[string]string{}
	for _, g := range c.cfg.SyncGroups {
		pos := c.sgMeta[g]
		keptP := g.TrackProcesses[:0]
		for i, t := range g.TrackProcesses {
			if c.cfg.TrackProcesses[t.Name] == nil {
				say(c.sgProcPos[g][i], parser.KaGeneralError, "(%s) track process %s not found, ignoring...", g.Name, t.Name)
				continue
			}
			keptP = append(keptP, t)
		}
		g.TrackProcesses = keptP
		keptF := g.TrackFiles[:0]
		for _, t := range g.TrackFiles {
			if c.cfg.TrackFiles[t.Name] == nil {
				say(pos, parser.KaGeneralError, "(%s) track file %s not found, ignoring...", g.Name, t.Name)
				continue
			}
			keptF = append(keptF, t)
		}
		g.TrackFiles = keptF
		kept := g.Instances[:0]
		for _, name := range g.Instances {
			if !names[name] {
				say(pos, parser.KaGeneralError, "Virtual router %s specified in sync group %s doesn't exist - ignoring", name, g.Name)
				continue
			}
			if _, dup := inGroup[name]; dup {
				say(pos, parser.KaGeneralError, "Virtual router %s cannot exist in more than one sync group; ignoring %s", name, g.Name)
				continue
			}
			inGroup[name] = g.Name
			kept = append(kept, name)
		}
		g.Instances = kept
		switch len(kept) {
		case 0:
			say(pos, parser.KaGeneralError, "Sync group %s, no matching virtual router found in group declaration - removing", g.Name)
		case 1:
			say(pos, parser.KaGeneralError, "Sync group %s has only %d virtual router(s) - this probably isn't what you want", g.Name, len(kept))
		}
	}
	groupOf := map[string]*vrrp.SyncGroup{}
	for _, g := range c.cfg.SyncGroups {
		for _, name := range g.Instances {
			groupOf[name] = g
		}
	}
	for _, in := range valid {
		c.ignoreWeights(in, groupOf[in.Name], say)
	}
	for name, sm := range c.scriptMeta {
		if !sm.used && !sm.removed {
			c.logf(sm.pos, "Warning - script %s is not used", name)
		}
	}
}

// fitVIPs moves the VIPs that do not fit in one advert to the excluded
// VIPs, as keepalived does: the count field is 8 bits and the advert must
// fit the interface's MTU (an Ethernet frame: 14-byte header, the IP
// header, the VRRP header, VRRPv2's auth data and AH header).
func (c *kaCtx) fitVIPs(in *vrrp.Instance, m *kaInstMeta, say func(pos parser.Pos, class, format string, a ...any)) {
	mtu := c.mtu(in.Interface)
	var max int
	if in.Family == 6 {
		max = (mtu - 14 - 40 - 8) / 16
	} else {
		hdr := 14 + 20 + 8
		if in.Version != 3 {
			hdr += 8
			if in.AuthType == "AH" {
				hdr += 24
			}
		}
		max = (mtu - hdr) / 4
	}
	max = min(max, 255)
	if len(in.VIPs) > max {
		say(m.pos, parser.KaGeneralError, "(%s) Number of VIPs (%d) exceeds maximum/space available in packet (max %d addresses) - excess moved to eVIPs",
			in.Name, len(in.VIPs), max)
		if len(in.ExcludedVIPs) == 0 {
			in.ExcludedVIPs = in.VIPs[max:] // no copy of a ~SEQ's million
		} else {
			in.ExcludedVIPs = append(in.ExcludedVIPs, in.VIPs[max:]...)
		}
		in.VIPs = in.VIPs[:max:max]
	}
}

// mtu is an interface's MTU on this host, 1500 when it cannot be known.
func (c *kaCtx) mtu(name string) int {
	if c.opt.HostChecks && c.opt.Interfaces == nil && name != "" {
		if ifi, err := net.InterfaceByName(name); err == nil && ifi.MTU > 0 {
			return ifi.MTU
		}
	}
	return 1500
}

// instanceGlobals copies global defaults into instances that did not set
// their own (garp timers, smtp_alert).
func (c *kaCtx) instanceGlobals(in *vrrp.Instance, m *kaInstMeta) {
	g := &c.cfg.Global
	if !m.garpDelaySet {
		in.GARPMasterDelay = g.GARPMasterDelay
	}
	if !m.garpRepSet {
		in.GARPMasterRepeat = g.GARPMasterRepeat
	}
	if !m.garpRefSet {
		in.GARPMasterRefresh = g.GARPMasterRefresh
	}
	if !m.garpRefRepSet {
		in.GARPMasterRefreshRepeat = g.GARPMasterRefreshRepeat
	}
	if !m.garpExtraSet {
		in.GARPExtraIf = g.GARPExtraIf
	}
	// the global "all" holds for every instance (an instance can only add it)
	in.GARPExtraIfAll = in.GARPExtraIfAll || g.GARPExtraIfAll
	if in.Version == 0 {
		in.Version = g.Version
	}
	in.GARPMasterDelay = noneIfZero(in.GARPMasterDelay)
}

func (c *kaCtx) hostInterfaces() map[string]bool {
	if c.opt.Interfaces != nil {
		return c.opt.Interfaces()
	}
	out := map[string]bool{}
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	for _, i := range ifs {
		out[i.Name] = true
	}
	return out
}

func (c *kaCtx) lookupUser(name string) (int, int, bool) {
	if c.opt.LookupUser != nil {
		return c.opt.LookupUser(name)
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, 0, false
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return uid, gid, true
}

// resolveScriptUser finds the default script user: script_user, else
// keepalived_script when it exists, else root.
func (c *kaCtx) resolveScriptUser() {
	g := &c.global
	if !c.opt.HostChecks {
		g.userOK = true
		g.uid = -1
		return
	}
	if g.scriptUserSet {
		name := c.cfg.Global.ScriptUser
		uid, gid, ok := c.lookupUser(name)
		if !ok {
			c.errf(g.scriptUserPos, parser.KaGeneralError, "Error setting global script uid/gid")
			g.userOK = false
			return
		}
		g.uid, g.gid, g.userOK = uid, gid, true
		return
	}
	if uid, gid, ok := c.lookupUser("keepalived_script"); ok {
		g.uid, g.gid, g.userOK = uid, gid, true
		return
	}
	g.uid, g.gid, g.userOK = 0, 0, true
}

// resolveScriptUsers gives each script its uid, as keepalived does when it
// reads the script: a script whose user cannot be set is removed (track
// scripts) or not run (notify scripts).
func (c *kaCtx) resolveScriptUsers() {
	if !c.opt.HostChecks {
		return
	}
	g := &c.global
	for i := range c.scripts {
		s := &c.scripts[i]
		s.uid = g.uid
		if s.hasUser {
			u, _, ok := c.lookupUser(s.user)
			if !ok {
				if s.track == "" {
					// keepalived 2.2.7 runs a notify script whose user is
					// unknown as the default user, saying nothing
					continue
				}
				c.errf(s.pos, parser.KaGeneralError, "Unable to set uid/gid for script '%s'", s.cmd)
				s.skip = true
				c.scriptMeta[s.track].removed = true
				continue
			}
			s.uid = u
		} else if !g.userOK || (g.uid == 0 && c.cfg.Global.EnableScriptSecurity && !c.global.scriptUserSet) {
			if s.track != "" {
				if g.userOK {
					c.errf(s.pos, parser.KaGeneralError, "Unable to set default user keepalived_script for script")
				}
				c.errf(s.pos, parser.KaGeneralError, "Unable to set default user for vrrp script %s - removing", s.track)
				c.scriptMeta[s.track].removed = true
			}
			// a notify script is then not run; keepalived -t says nothing
			s.skip = true
		}
	}
}

// checkScripts does keepalived's checks once everything is read: a
// script that cannot be found is not run (a track script is disabled),
// and scripts that run as root need enable_script_security.
func (c *kaCtx) checkScripts() {
	if !c.opt.HostChecks {
		return
	}
	rootScripts := false
	var rootPos parser.Pos
	for _, s := range c.scripts {
		if s.skip {
			continue
		}
		if !kaScriptRunnable(s.cmd) {
			if s.track != "" {
				c.errf(s.cmdPos, parser.KaGeneralError, "Disabling track script %s since not found/accessible", s.track)
				c.disableTrack(s.track)
			}
			continue
		}
		if c.cfg.Global.EnableScriptSecurity && s.track != "" && !kaScriptSecure(s.cmd, s.uid) {
			// a path writable by someone other than root or the script's
			// user: keepalived will not run it (check_script_secure)
			c.errf(s.cmdPos, parser.KaGeneralError, "Disabling track script %s due to insecure", s.track)
			c.disableTrack(s.track)
			continue
		}
		if s.uid == 0 && !rootScripts {
			rootScripts, rootPos = true, s.cmdPos
		}
	}
	if rootScripts && !c.cfg.Global.EnableScriptSecurity {
		c.errf(rootPos, parser.KaSecurityError, "SECURITY VIOLATION - scripts are being executed but script_security not enabled.")
	}
}

// disableTrack drops a track script keepalived disabled from every
// instance and sync group that tracks it.
func (c *kaCtx) disableTrack(name string) {
	delete(c.cfg.Scripts, name)
	drop := func(refs []vrrp.TrackRef) []vrrp.TrackRef {
		out := refs[:0]
		for _, t := range refs {
			if t.Name != name {
				out = append(out, t)
			}
		}
		return out
	}
	for _, in := range c.cfg.Instances {
		in.TrackScripts = drop(in.TrackScripts)
	}
	for _, g := range c.cfg.SyncGroups {
		g.TrackScripts = drop(g.TrackScripts)
	}
}

// kaScriptSecure reports whether a script's program and the directories
// above it are safe to run as uid under enable_script_security, as the
// runtime checks them (track.CheckSecure).
func kaScriptSecure(cmd string, uid int) bool {
	path, err := track.Resolve(track.SplitCommand(cmd))
	if err != nil {
		return true // reported as not found, not as insecure
	}
	if uid < 0 {
		uid = 0
	}
	return track.CheckSecure(path, track.Cred{UID: uint32(uid)}) == nil
}

// kaScriptRunnable reports whether a script's program can be found: an
// absolute or relative path that exists, or a name on PATH.
func kaScriptRunnable(cmd string) bool {
	words, err := parser.SplitScript(cmd)
	if err != nil || len(words) == 0 {
		return false
	}
	prog := words[0]
	if strings.Contains(prog, "/") {
		st, err := os.Stat(prog)
		return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
	}
	for _, dir := range filepath.SplitList(os.Getenv("PATH") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin") {
		if dir == "" {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, prog))
		if err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return true
		}
	}
	return false
}
