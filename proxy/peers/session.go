package peers

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"

	"halo/proxy/stick"
)

// session is one established connection with a peer: it pushes our
// local changes, learns the peer's, acknowledges them, and teaches or
// learns whole tables on resync (HAProxy's peer applet).
type session struct {
	s         *section
	p         *peer
	c         net.Conn
	r         *bufio.Reader
	outgoing  bool
	downgrade bool // the peer speaks 2.0: no timed updates
	teacher   bool // we are the old process teaching the new one

	wakeCh   chan struct{}
	dead     chan struct{}
	killOnce sync.Once

	mu        sync.Mutex
	est       bool
	tbl       []*sessTable
	remote    *sessTable // table of the incoming updates (define/switch)
	lastLocal int        // index of the table our last define named, -1
	// learning: the peer teaches us (we asked, or it is our old
	// process); lessonAsked: the resync request is still to send.
	learning, lessonAsked bool
	// teaching: the peer asked for a resync (or we teach our new
	// process); taught: the lesson and its finished/partial were sent.
	teaching, taught bool
	confirms         int  // resync confirmations owed
	confirmed        bool // the local peer confirmed our lesson
	lastSent         time.Time

	dictTx   map[string]int
	dictNext int
	dictRx   [dictSize]string

	out   []byte
	body  []byte
	ups   []stick.Update
	elem  []stick.PeerElem
	rvals [stick.NumDataTypes][stick.MaxArray]stick.PeerValue
	rhave [stick.NumDataTypes][stick.MaxArray]bool
}

const dictSize = 128 // PEER_STKT_CACHE_MAX_ENTRIES

// sessTable is a shared table's state in one session.
type sessTable struct {
	st        *shTable
	idx       int
	remoteID  uint64
	remoteDT  uint64 // the data types the peer sends
	remoteN   [stick.NumDataTypes]int
	lastGet   uint32 // id of the peer's last update received
	lastAcked uint32 // ... and acknowledged
	lastPush  uint32 // id of our last update sent
	origin    uint32 // teaching origin: lastPush when a lesson started
	pushed    bool   // an update was sent since the last define (ids may be implicit)
}

func newSession(s *section, p *peer, c net.Conn, r *bufio.Reader, outgoing, downgrade bool) *session {
	ss := &session{s: s, p: p, c: c, r: r, outgoing: outgoing, downgrade: downgrade,
		wakeCh: make(chan struct{}, 1), dead: make(chan struct{}), lastLocal: -1, dictTx: map[string]int{}}
	for i, st := range s.tables {
		p.mu.Lock()
		acked := p.acked[i]
		p.mu.Unlock()
		ss.tbl = append(ss.tbl, &sessTable{st: st, idx: i, lastPush: acked, origin: acked})
	}
	ss.ups = make([]stick.Update, 0, s.maxUpdates)
	return ss
}

func (ss *session) wake() {
	select {
	case ss.wakeCh <- struct{}{}:
	default:
	}
}

func (ss *session) kill() {
	ss.killOnce.Do(func() {
		close(ss.dead)
		ss.c.Close()
	})
}

func (ss *session) established() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.est
}

// requestLesson asks the peer for a full resync.
func (ss *session) requestLesson() {
	ss.mu.Lock()
	ss.learning, ss.lessonAsked = true, true
	ss.mu.Unlock()
	ss.wake()
}

// run serves the session until it ends.
func (ss *session) run() {
	ss.mu.Lock()
	ss.est = true
	if ss.p.local {
		if ss.outgoing {
			// our new process: teach it everything
			ss.teaching = true
		} else if ss.s.localLesson(ss.p) {
			// our old process teaches us, unasked
			ss.learning = true
		}
	}
	ss.mu.Unlock()
	readErr := make(chan error, 1)
	go func() { readErr <- ss.readLoop() }()
	if !ss.p.local {
		ss.s.assignTeacher()
	}
	hb := time.NewTimer(heartbeatEvery)
	defer hb.Stop()
	for {
		if err := ss.flush(); err != nil {
			break
		}
		if ss.teacher && ss.isConfirmed() {
			break
		}
		hb.Reset(time.Until(ss.lastSentAt().Add(heartbeatEvery)))
		select {
		case <-ss.dead:
		case <-readErr:
			ss.kill()
		case <-ss.wakeCh:
			continue
		case <-hb.C:
			continue
		}
		break
	}
	ss.kill()
	ss.p.detach(ss)
	ss.mu.Lock()
	learning := ss.learning
	ss.mu.Unlock()
	if learning {
		ss.s.lessonAborted(ss.p)
	}
}

func (ss *session) isConfirmed() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.confirmed
}

func (ss *session) lastSentAt() time.Time {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.lastSent
}

// flush sends what is owed: a resync request, acknowledgements, the
// lesson or our new updates, confirmations, a heartbeat.
func (ss *session) flush() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.out = ss.out[:0]
	if ss.lessonAsked {
		ss.lessonAsked = false
		ss.out = appendMessage(ss.out, classControl, ctrlResyncReq, nil)
	}
	for _, st := range ss.tbl {
		if st.lastGet != st.lastAcked {
			ss.body = appendVarint(ss.body[:0], st.remoteID)
			ss.body = binary.BigEndian.AppendUint32(ss.body, st.lastGet)
			ss.out = appendMessage(ss.out, classStkt, stktAck, ss.body)
			st.lastAcked = st.lastGet
		}
	}
	if ss.teaching {
		if !ss.taught {
			if err := ss.teach(); err != nil {
				return err
			}
			ss.taught = true
			typ := byte(ctrlResyncPartial)
			if ss.s.upToDate() || ss.teacher {
				typ = ctrlResyncFinished
			}
			ss.out = appendMessage(ss.out, classControl, typ, nil)
		}
	} else {
		for _, st := range ss.tbl {
			if err := ss.pushUpdates(st); err != nil {
				return err
			}
		}
	}
	for ; ss.confirms > 0; ss.confirms-- {
		ss.out = appendMessage(ss.out, classControl, ctrlResyncConfirm, nil)
	}
	if len(ss.out) == 0 && time.Since(ss.lastSent) >= heartbeatEvery {
		ss.out = appendMessage(ss.out, classControl, ctrlHeartbeat, nil)
	}
	return ss.write()
}

func (ss *session) write() error {
	if len(ss.out) == 0 {
		return nil
	}
	_ = ss.c.SetWriteDeadline(time.Now().Add(reconnectTimeout))
	_, err := ss.c.Write(ss.out)
	ss.out = ss.out[:0]
	ss.lastSent = time.Now()
	return err
}

// pushUpdates sends the table's local changes after the last one sent.
func (ss *session) pushUpdates(st *sessTable) error {
	t := st.st.t
	for {
		if st.lastPush == t.LocalUpdate() {
			return nil
		}
		ups := t.UpdatesAfter(st.lastPush, ss.ups[:0])
		if len(ups) == 0 {
			st.lastPush = t.LocalUpdate()
			return nil
		}
		for _, u := range ups {
			r := t.Acquire(u)
			if r == 0 {
				// stale: the entry changed again (a later record) or went
				continue
			}
			ss.defineIfNeeded(st)
			useID := !st.pushed || u.ID-st.lastPush != 1
			ss.appendUpdate(st, r, u.ID, useID, false)
			t.Release(r)
			st.lastPush, st.pushed = u.ID, true
			if len(ss.out) > 64<<10 {
				if err := ss.write(); err != nil {
					return err
				}
			}
		}
		st.lastPush = ups[len(ups)-1].ID
		if err := ss.write(); err != nil {
			return err
		}
	}
}

// teach sends every entry of every table (a full resync), timed unless
// the peer speaks 2.0.
func (ss *session) teach() error {
	for _, st := range ss.tbl {
		st.origin = st.lastPush
		t := st.st.t
		refs := t.Entries(nil)
		id := st.lastPush
		st.pushed = false
		for i, r := range refs {
			ss.defineIfNeeded(st)
			id++
			ss.appendUpdate(st, r, id, !st.pushed, !ss.downgrade)
			st.pushed = true
			t.Release(r)
			if len(ss.out) > 64<<10 {
				if err := ss.write(); err != nil {
					for _, r := range refs[i+1:] {
						t.Release(r)
					}
					return err
				}
			}
		}
	}
	return ss.write()
}

// defineIfNeeded sends the table definition before its first update of
// a run (HAProxy sends a full definition at each table switch).
func (ss *session) defineIfNeeded(st *sessTable) {
	if ss.lastLocal == st.idx {
		return
	}
	ss.lastLocal = st.idx
	st.pushed = false
	t := st.st.t
	b := appendVarint(ss.body[:0], uint64(st.st.id))
	name := t.Spec.NetName
	b = appendVarint(b, uint64(len(name)))
	b = append(b, name...)
	b = appendVarint(b, netKeyType(t.Spec.Type))
	b = appendVarint(b, uint64(t.KeySize()))
	var mask uint64
	var params []byte
	for d := stick.DataType(0); d < stick.NumDataTypes; d++ {
		if !t.Stores(d) {
			continue
		}
		mask |= 1 << d
		switch {
		case d.IsArray():
			params = appendVarint(params, uint64(d))
			params = appendVarint(params, uint64(t.Elems(d)))
			if d.IsRate() {
				params = appendVarint(params, uint64(t.Period(d)))
			}
		case d.IsRate():
			params = appendVarint(params, uint64(d))
			params = appendVarint(params, uint64(t.Period(d)))
		}
	}
	b = appendVarint(b, mask)
	b = appendVarint(b, uint64(t.ExpireMS()))
	b = append(b, params...)
	ss.body = b
	ss.out = appendMessage(ss.out, classStkt, stktDefine, b)
}

func netKeyType(k stick.KeyType) uint64 {
	switch k {
	case stick.KeyIP:
		return netKeyIPv4
	case stick.KeyIPv6:
		return netKeyIPv6
	case stick.KeyInteger:
		return netKeySInt
	case stick.KeyString:
		return netKeyStr
	}
	return netKeyBin
}

// appendUpdate encodes one entry: [update id][expire] key, then every
// stored datum in data type order.
func (ss *session) appendUpdate(st *sessTable, r stick.Ref, id uint32, useID, timed bool) {
	t := st.st.t
	var expire uint32
	ss.elem, expire = t.ReadPeer(r, ss.elem[:0])
	b := ss.body[:0]
	if useID {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	if timed {
		b = binary.BigEndian.AppendUint32(b, expire)
	}
	k := t.AppendRawKey(nil, r)
	switch t.Spec.Type {
	case stick.KeyString:
		b = appendVarint(b, uint64(len(k)))
		b = append(b, k...)
	case stick.KeyInteger:
		b = binary.BigEndian.AppendUint32(b, binary.LittleEndian.Uint32(k))
	default:
		b = append(b, k...)
		for i := len(k); i < t.KeySize(); i++ {
			b = append(b, 0)
		}
	}
	for _, e := range ss.elem {
		switch e.Type.Kind() {
		case stick.KindFreq:
			b = appendVarint(b, uint64(e.V.Age))
			b = appendVarint(b, uint64(e.V.Curr))
			b = appendVarint(b, uint64(e.V.Prev))
		case stick.KindDict:
			b = ss.appendDict(b, e.V.S)
		default:
			b = appendVarint(b, e.V.N)
		}
	}
	ss.body = b
	typ := byte(stktIncUpdate)
	switch {
	case useID && timed:
		typ = stktUpdateTimed
	case useID:
		typ = stktUpdate
	case timed:
		typ = stktIncUpdateTimed
	}
	ss.out = appendMessage(ss.out, classStkt, typ, b)
}

// appendDict encodes a server key with the session's dictionary cache:
// the first time a value goes with its cache id, later the id alone.
func (ss *session) appendDict(b []byte, v string) []byte {
	if v == "" {
		return appendVarint(b, 0)
	}
	if id, ok := ss.dictTx[v]; ok {
		b = appendVarint(b, 1)
		return appendVarint(b, uint64(id+1))
	}
	id := ss.dictNext
	ss.dictNext = (ss.dictNext + 1) % dictSize
	for k, i := range ss.dictTx {
		if i == id {
			delete(ss.dictTx, k)
		}
	}
	ss.dictTx[v] = id
	var inner []byte
	inner = appendVarint(inner, uint64(id+1))
	inner = appendVarint(inner, uint64(len(v)))
	inner = append(inner, v...)
	b = appendVarint(b, uint64(len(inner)))
	return append(b, inner...)
}

var errProtocol = errors.New("peers: protocol error")

// readLoop reads and applies the peer's messages until the session ends
// or the peer stays silent for reconnectTimeout.
func (ss *session) readLoop() error {
	var buf []byte
	for {
		_ = ss.c.SetReadDeadline(time.Now().Add(reconnectTimeout))
		m, nb, err := readMessage(ss.r, buf)
		buf = nb
		if err != nil {
			if err == errSizeLimitMsg {
				ss.sendError(errSizeLimit)
			}
			return err
		}
		if err := ss.handle(m); err != nil {
			ss.sendError(errProto)
			return err
		}
	}
}

func (ss *session) sendError(typ byte) {
	ss.mu.Lock()
	ss.out = appendMessage(ss.out[:0], classError, typ, nil)
	_ = ss.write()
	ss.mu.Unlock()
}

// handle applies one message.
func (ss *session) handle(m Message) error {
	switch m.Class {
	case classControl:
		return ss.control(m.Type)
	case classError, classReserve:
		return errProtocol
	case classStkt:
		ss.mu.Lock()
		defer ss.mu.Unlock()
		switch m.Type {
		case stktDefine:
			return ss.define(m.Data)
		case stktSwitch:
			id, _, err := readVarint(m.Data)
			if err != nil {
				return errProtocol
			}
			ss.remote = nil
			for _, st := range ss.tbl {
				if st.remoteID == id {
					ss.remote = st
				}
			}
		case stktUpdate, stktIncUpdate, stktUpdateTimed, stktIncUpdateTimed:
			err := ss.update(m.Data, m.Type == stktUpdate || m.Type == stktUpdateTimed, m.Type == stktUpdateTimed || m.Type == stktIncUpdateTimed)
			ss.wake()
			return err
		case stktAck:
			if ss.teaching {
				return nil // acks of a lesson are not kept
			}
			id, n, err := readVarint(m.Data)
			if err != nil || len(m.Data) < n+4 {
				return errProtocol
			}
			upd := binary.BigEndian.Uint32(m.Data[n:])
			for _, st := range ss.tbl {
				if uint64(st.st.id) == id {
					ss.p.mu.Lock()
					ss.p.acked[st.idx] = upd
					ss.p.mu.Unlock()
				}
			}
		}
	}
	return nil
}

// control handles a control message.
func (ss *session) control(typ byte) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	switch typ {
	case ctrlResyncReq:
		// the peer wants everything: teach from the start, then go on
		// from where we were
		ss.teaching, ss.taught = true, false
		ss.wake()
	case ctrlResyncFinished, ctrlResyncPartial:
		if ss.learning {
			ss.learning = false
			ss.mu.Unlock()
			ss.s.lessonDone(ss.p, typ == ctrlResyncFinished)
			ss.mu.Lock()
		}
		ss.confirms++
		ss.wake()
	case ctrlResyncConfirm:
		if ss.teacher {
			ss.confirmed = true
			ss.wake()
			return nil
		}
		for _, st := range ss.tbl {
			st.lastPush = st.origin
			ss.p.mu.Lock()
			ss.p.acked[st.idx] = st.origin
			ss.p.mu.Unlock()
		}
		ss.teaching, ss.taught = false, false
		ss.wake()
	case ctrlHeartbeat:
	}
	return nil
}

// define reads a table definition: which of our tables the following
// updates are for, and the data they carry.
func (ss *session) define(b []byte) error {
	id, n, err := readVarint(b)
	if err != nil {
		return errProtocol
	}
	b = b[n:]
	l, n, err := readVarint(b)
	if err != nil || l == 0 || uint64(len(b)-n) <= l {
		return errProtocol
	}
	name := string(b[n : n+int(l)])
	b = b[n+int(l):]
	ss.remote = nil
	var target *sessTable
	for _, st := range ss.tbl {
		if st.remoteID == id {
			st.remoteID = 0
		}
		if target == nil && st.st.t.Spec.NetName == name {
			target = st
		}
	}
	if target == nil {
		return nil // a table we do not share: its updates are ignored
	}
	var vals [3]uint64
	for i := range vals {
		v, n, err := readVarint(b)
		if err != nil {
			return errProtocol
		}
		vals[i], b = v, b[n:]
	}
	typ, keylen, mask := vals[0], vals[1], vals[2]
	t := target.st.t
	if typ != netKeyType(t.Spec.Type) || keylen != uint64(t.KeySize()) {
		return nil // same name, other key: ignored as HAProxy does
	}
	var nelem [stick.NumDataTypes]int
	if _, n, err := readVarint(b); err == nil {
		b = b[n:] // the entries' duration, then the data types' parameters
		for d := stick.DataType(0); d < 64; d++ {
			if mask&(1<<d) == 0 {
				continue
			}
			if d >= stick.NumDataTypes {
				return nil // a data type HAProxy 2.6 does not know
			}
			if !d.IsArray() && !d.IsRate() {
				continue
			}
			v, n, err := readVarint(b)
			if err != nil || v != uint64(d) {
				return nil
			}
			b = b[n:]
			if d.IsArray() {
				v, n, err := readVarint(b)
				if err != nil || v > stick.MaxArray {
					return nil
				}
				nelem[d], b = int(v), b[n:]
			}
			if d.IsRate() {
				_, n, err := readVarint(b)
				if err != nil {
					return nil
				}
				b = b[n:]
			}
		}
	} else {
		for d := stick.DataType(0); d < stick.NumDataTypes; d++ {
			if mask&(1<<d) != 0 && d.IsArray() {
				return nil // arrays need their sizes
			}
		}
		if mask>>stick.NumDataTypes != 0 {
			return nil
		}
	}
	for d := range nelem {
		if nelem[d] == 0 {
			nelem[d] = 1
		}
	}
	target.remoteID, target.remoteDT, target.remoteN = id, mask, nelem
	ss.remote = target
	return nil
}

// update reads one entry update and applies it.
func (ss *session) update(b []byte, withID, timed bool) error {
	st := ss.remote
	if st == nil {
		return nil
	}
	t := st.st.t
	if withID {
		if len(b) < 4 {
			return errProtocol
		}
		st.lastGet = binary.BigEndian.Uint32(b)
		b = b[4:]
	} else {
		st.lastGet++
	}
	expire := t.ExpireMS()
	if timed {
		if len(b) < 4 {
			return errProtocol
		}
		expire = binary.BigEndian.Uint32(b)
		b = b[4:]
	}
	var key []byte
	switch t.Spec.Type {
	case stick.KeyString:
		l, n, err := readVarint(b)
		if err != nil || uint64(len(b)-n) < l {
			return errProtocol
		}
		key = b[n : n+int(l)]
		b = b[n+int(l):]
	case stick.KeyInteger:
		if len(b) < 4 {
			return errProtocol
		}
		key = binary.LittleEndian.AppendUint32(nil, binary.BigEndian.Uint32(b))
		b = b[4:]
	default:
		if len(b) < t.KeySize() {
			return errProtocol
		}
		key = b[:t.KeySize()]
		b = b[t.KeySize():]
	}
	for d := stick.DataType(0); d < stick.NumDataTypes; d++ {
		for i := range ss.rhave[d] {
			if !ss.rhave[d][i] {
				break
			}
			ss.rhave[d][i] = false
		}
	}
	for d := stick.DataType(0); d < stick.NumDataTypes; d++ {
		if st.remoteDT&(1<<d) == 0 {
			continue
		}
		for i := 0; i < st.remoteN[d]; i++ {
			var v stick.PeerValue
			var err error
			switch d.Kind() {
			case stick.KindFreq:
				var age, cur, prev uint64
				if age, b, err = next(b); err == nil {
					if cur, b, err = next(b); err == nil {
						prev, b, err = next(b)
					}
				}
				v.Age, v.Curr, v.Prev = uint32(age), uint32(cur), uint32(prev)
			case stick.KindDict:
				v.S, b, err = ss.readDict(b)
			default:
				v.N, b, err = next(b)
			}
			if err != nil {
				return errProtocol
			}
			if i < stick.MaxArray {
				ss.rvals[d][i], ss.rhave[d][i] = v, true
			}
		}
	}
	t.ApplyPeer(key, expire, func(dt stick.DataType, idx int) (stick.PeerValue, bool) {
		if idx >= stick.MaxArray || !ss.rhave[dt][idx] {
			return stick.PeerValue{}, false
		}
		return ss.rvals[dt][idx], true
	})
	return nil
}

func next(b []byte) (uint64, []byte, error) {
	v, n, err := readVarint(b)
	if err != nil {
		return 0, b, err
	}
	return v, b[n:], nil
}

// readDict reads a server key: a length (0: none), then a cache id and,
// the first time, the value.
func (ss *session) readDict(b []byte) (string, []byte, error) {
	l, b, err := next(b)
	if err != nil || l == 0 {
		return "", b, err
	}
	if uint64(len(b)) < l {
		return "", b, errProtocol
	}
	data, rest := b[:l], b[l:]
	id, data, err := next(data)
	if err != nil || id == 0 || id > dictSize {
		return "", rest, errProtocol
	}
	if len(data) == 0 {
		return ss.dictRx[id-1], rest, nil
	}
	vl, data, err := next(data)
	if err != nil || uint64(len(data)) < vl {
		return "", rest, errProtocol
	}
	ss.dictRx[id-1] = string(data[:vl])
	return ss.dictRx[id-1], rest, nil
}
