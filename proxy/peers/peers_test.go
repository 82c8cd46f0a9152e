package peers

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"halo/proxy"
	"halo/proxy/stick"
)

// TestVarint checks HAProxy's encoding at the boundaries the peers
// document lists: 1 byte below 240, 2 up to 2287, 3 up to 264431 …
func TestVarint(t *testing.T) {
	for _, tc := range []struct {
		v    uint64
		size int
	}{
		{0, 1}, {239, 1}, {240, 2}, {2287, 2}, {2288, 3}, {264431, 3}, {264432, 4},
		{33818863, 4}, {33818864, 5}, {4328786159, 5}, {1 << 63, 10}, {1<<64 - 1, 10},
	} {
		b := appendVarint(nil, tc.v)
		if len(b) != tc.size {
			t.Errorf("%d: %d bytes, want %d", tc.v, len(b), tc.size)
		}
		v, n, err := readVarint(b)
		if err != nil || v != tc.v || n != len(b) {
			t.Errorf("%d: read back %d (%d bytes, %v)", tc.v, v, n, err)
		}
		if _, _, err := readVarint(b[:len(b)-1]); len(b) > 1 && err == nil {
			t.Errorf("%d: truncated encoding read without error", tc.v)
		}
	}
	// bytes as HAProxy writes them: 240 is f0 00, 1000 is f8 2f
	if got := appendVarint(nil, 1000); !bytes.Equal(got, []byte{0xf8, 0x2f}) {
		t.Errorf("1000 encodes as % x", got)
	}
}

func TestHello(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		status   int
		peer     string
	}{
		{"ok", "HAProxyS 2.1\nB\nA 1234 1\n", statusSuccess, "A"},
		{"version 2.0", "HAProxyS 2.0\nB\nA 1 1\n", statusSuccess, "A"},
		{"crlf", "HAProxyS 2.1\r\nB\r\nA 1 1\r\n", statusSuccess, "A"},
		{"bad protocol", "HTTP/1.1 2.1\nB\nA 1 1\n", statusErrProto, ""},
		{"bad version", "HAProxyS 3.0\nB\nA 1 1\n", statusErrVersion, ""},
		{"newer minor", "HAProxyS 2.2\nB\nA 1 1\n", statusErrVersion, ""},
		{"not me", "HAProxyS 2.1\nC\nA 1 1\n", statusErrHost, ""},
		{"no pid", "HAProxyS 2.1\nB\nA\n", statusErrProto, ""},
	} {
		h, st, err := readHello(bufio.NewReader(bytes.NewBufferString(tc.in)), "B")
		if err != nil || st != tc.status || (st == statusSuccess && h.Local != tc.peer) {
			t.Errorf("%s: status %d peer %q err %v", tc.name, st, h.Local, err)
		}
	}
	if got := string(hello{Major: 2, Minor: 1, Remote: "B", Local: "A", Pid: 7}.appendTo(nil)); got != "HAProxyS 2.1\nB\nA 7 1\n" {
		t.Errorf("hello %q", got)
	}
}

// testSession is a session over an in-memory table, its writes captured.
func testSession(t *testing.T) (*session, *stick.Table, *bytes.Buffer) {
	t.Helper()
	spec := &stick.Spec{Name: "stkt", NetName: "stkt", Type: stick.KeyString, KeySize: 32, Size: 100,
		Expire: time.Minute, Peers: "p", Store: []stick.Store{
			{Type: stick.ServerID, N: 1}, {Type: stick.GPC0, N: 1}, {Type: stick.ConnCur, N: 1},
			{Type: stick.ConnRate, N: 1, Period: 50 * time.Second}, {Type: stick.ServerKey, N: 1},
			{Type: stick.GPT, N: 2}, {Type: stick.BytesInCnt, N: 1}}}
	set := stick.NewSet([]*stick.Spec{spec}, stick.NewManualClock(1_000_000))
	s, err := newSection(&proxy.PeersSection{Name: "p", Local: "B", Tables: []string{"stkt"},
		Peers: []*proxy.Peer{{Name: "A"}, {Name: "B", Local: true}}}, set, false)
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := net.Pipe()
	out := &bytes.Buffer{}
	go func() { _, _ = out.ReadFrom(c2) }()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	ss := newSession(s, s.peers[0], c1, bufio.NewReader(bytes.NewReader(nil)), true, false)
	return ss, set.Table("stkt"), out
}

// TestUpdateRoundTrip: what a session encodes for an entry, another
// session decodes to the same data (the HAProxy wire format both ways).
func TestUpdateRoundTrip(t *testing.T) {
	tx, tt, _ := testSession(t)
	rx, rt, _ := testSession(t)
	r := tt.Get([]byte("/k1"))
	tt.IncGPC(r, 0, true)
	tt.StoreServer(r, -3, "srv1")
	tt.SetGPT(r, 1, false, 77)
	tt.StartCounters(r)
	tt.AddBytes(r, 1<<33, 0)
	st := tx.tbl[0]
	tx.defineIfNeeded(st)
	tx.appendUpdate(st, r, 9, true, true)
	tx.appendUpdate(st, r, 10, false, false)
	tt.Release(r)
	br := bufio.NewReader(bytes.NewReader(tx.out))
	for range 3 {
		m, _, err := readMessage(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := rx.handle(m); err != nil {
			t.Fatalf("message %x/%x: %v", m.Class, m.Type, err)
		}
	}
	if rx.tbl[0].lastGet != 10 {
		t.Fatalf("last update id %d, want 10", rx.tbl[0].lastGet)
	}
	refs := rt.Entries(nil)
	if len(refs) != 1 {
		t.Fatalf("%d entries", len(refs))
	}
	line := string(rt.AppendEntry(nil, refs[0], 1))
	want := "key=/k1 use=0 exp=60000 server_id=-3 gpc0=1 conn_rate(50000)=1 conn_cur=0 bytes_in_cnt=8589934592 server_key=srv1 gpt0=0 gpt1=77\n"
	if !bytes.HasSuffix([]byte(line), []byte(want)) {
		t.Fatalf("got  %q\nwant …%q", line, want)
	}
}

// TestDefineMismatch: a table of the same name and another key type is
// ignored, and its updates with it.
func TestDefineMismatch(t *testing.T) {
	rx, rt, _ := testSession(t)
	b := appendVarint(nil, 1)
	b = appendVarint(b, 4)
	b = append(b, "stkt"...)
	b = appendVarint(b, netKeyIPv4)
	b = appendVarint(b, 4)
	b = appendVarint(b, 1<<stick.GPC0)
	if err := rx.handle(Message{Class: classStkt, Type: stktDefine, Data: b}); err != nil {
		t.Fatal(err)
	}
	u := binary.BigEndian.AppendUint32(nil, 1)
	u = append(u, 10, 0, 0, 1, 5)
	if err := rx.handle(Message{Class: classStkt, Type: stktUpdate, Data: u}); err != nil {
		t.Fatal(err)
	}
	if rt.Used() != 0 {
		t.Fatal("an update for a mismatched table was applied")
	}
}

func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0, 4})
	f.Add([]byte{10, 0x82, 5, 1, 4, 's', 't', 'k'})
	f.Add([]byte{10, 0x80, 0xf0, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		var buf []byte
		for {
			m, nb, err := readMessage(br, buf)
			buf = nb
			if err != nil {
				return
			}
			if m.Type&stktHasData == 0 && m.Data != nil {
				t.Fatal("control message with data")
			}
		}
	})
}

// FuzzSessionHandle feeds arbitrary messages to a session: a peer's bytes
// must never crash halo.
func FuzzSessionHandle(f *testing.F) {
	def := appendVarint(nil, 1)
	def = appendVarint(def, 4)
	def = append(def, "stkt"...)
	def = appendVarint(def, netKeyStr)
	def = appendVarint(def, 32)
	def = appendVarint(def, 1<<stick.GPC0|1<<stick.ServerKey|1<<stick.GPT|1<<stick.ConnRate)
	def = appendVarint(def, 60000)
	def = append(def, byte(stick.ConnRate), 10, byte(stick.GPT), 2)
	f.Add(def, []byte{0, 0, 0, 1, 2, 'k', 'x', 3, 1, 2, 3, 4, 1, 1, 5, 6})
	f.Add([]byte{1, 4, 's', 't', 'k', 't'}, []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, define, update []byte) {
		rx, _, _ := testSession(t)
		_ = rx.handle(Message{Class: classStkt, Type: stktDefine, Data: define})
		for _, typ := range []byte{stktUpdate, stktIncUpdate, stktUpdateTimed, stktIncUpdateTimed, stktAck, stktSwitch} {
			_ = rx.handle(Message{Class: classStkt, Type: typ, Data: update})
		}
	})
}
