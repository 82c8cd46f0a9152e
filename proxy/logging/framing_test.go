package logging

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"halo/proxy"
)

// TestFramingAsHAProxy sends the line of testdata/framing.golden to the
// same targets and compares each datagram with what HAProxy 2.6.12 sent:
// headers of every format, the line budget, the cut at len and the LF.
func TestFramingAsHAProxy(t *testing.T) {
	f, err := os.Open("testdata/framing.golden")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var targets []proxy.LogTarget
	var want []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		spec, q, _ := strings.Cut(line, "\t")
		var dg string
		if err := json.Unmarshal([]byte(q), &dg); err != nil {
			t.Fatal(err)
		}
		want = append(want, dg)
		lt := proxy.LogTarget{Address: pc.LocalAddr().String()}
		w := strings.Fields(spec)
		for i := 0; i < len(w); i++ {
			switch w[i] {
			case "len":
				lt.Len, _ = strconv.Atoi(w[i+1])
				i++
			case "format":
				lt.Format = w[i+1]
				i++
			default:
				lt.Facility = w[i]
			}
		}
		targets = append(targets, lt)
	}
	l, err := Open(targets, "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.PID = 3934
	l.MaxLine = MaxLine(&proxy.Config{Global: proxy.Global{Logs: targets}})
	at := time.Date(2026, 12, 3, 16, 19, 47, 660554000, time.UTC)
	l.now = func() time.Time { return at }
	l.Send(LevelInfo, []byte(`127.0.0.1:39220 [03/Dec/2026:16:19:47.659] fe be/s1 0/0/0/1/1 200 132 - - ---- 1/1/0/0/0 0/0 "GET / HTTP/1.1"`))
	// HAProxy reads the clock for each target: only the microseconds
	// of its ISO dates may differ.
	micros := regexp.MustCompile(`\.[0-9]{6}\+`)
	buf := make([]byte, 4096)
	for i, w := range want {
		pc.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i+1, err)
		}
		got := micros.ReplaceAllString(string(buf[:n]), ".000000+")
		if w = micros.ReplaceAllString(w, ".000000+"); got != w {
			t.Errorf("target %d (%s):\n got  %q\n want %q", i+1, targets[i].Format, got, w)
		}
	}
}

// TestSample keeps lines 1-2 and 5 of every 6 (`sample 1-2,5:6`).
func TestSample(t *testing.T) {
	tg := &Target{sample: []proxy.SampleRange{{Low: 1, High: 2}, {Low: 5, High: 5}}, sampleSize: 6}
	var got []string
	for i := 1; i <= 12; i++ {
		if tg.sampled() {
			got = append(got, strconv.Itoa(i))
		}
	}
	if g := strings.Join(got, ","); g != "1,2,5,7,8,11" {
		t.Errorf("sampled lines %s, want 1,2,5,7,8,11", g)
	}
}
