package main

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromium renders a URL headless as a person's browser would; the
// binary is Debian's chromium package (.ci/run installs it).
const chromiumBin = "/usr/bin/chromium"

func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1600,1200"}
	out, err := exec.CommandContext(ctx, chromiumBin, append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return out
}

// TestStatsPageRendersInChromium loads halo's stats page in headless
// Chromium and fails on a broken layout: the parsed document must hold
// every proxy's tables, and the screenshot must show the page as drawn
// by its style sheet (the cyan header rows across the whole width, the
// crimson proxy names, a body that is not blank).
func TestStatsPageRendersInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumBin); err != nil {
		t.Skipf("%s is not installed (Debian package chromium): the page is not rendered", chromiumBin)
	}
	up1, up2 := statsPageOrigins(t)
	fe, tcp, st := freePort(t), freePort(t), freePort(t)
	runEngine(t, statsPageConfig(fe, tcp, st, up1, up2, freePort(t)))
	url := fmt.Sprintf("http://127.0.0.1:%d/st;norefresh", st)
	time.Sleep(500 * time.Millisecond) // first checks

	dom := string(chromium(t, "--dump-dom", url))
	for _, px := range []string{"fe", "be", "tcpx", "stats"} {
		if !strings.Contains(dom, `<a class="px" href="#`+px+`">`+px+`</a>`) {
			t.Errorf("proxy %s is missing from the rendered document", px)
		}
	}
	if n := strings.Count(dom, `<table class="tbl"`); n != 8 {
		t.Errorf("%d stats tables rendered, want 8 (two per proxy)", n)
	}

	shot := filepath.Join(t.TempDir(), "page.png")
	chromium(t, "--screenshot="+shot, url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	checkStatsScreenshot(t, img)
}

// checkStatsScreenshot looks at the pixels: the header rows' cyan
// (#20D0D0) must run across at least 90% of the width on some line, the
// proxy-name crimson (#b00040) must be there, and at least 2% of the
// pixels must not be white (a zero-size or unstyled body fails).
func checkStatsScreenshot(t *testing.T, img image.Image) {
	t.Helper()
	b := img.Bounds()
	near := func(x, y int, r0, g0, b0 uint32) bool {
		r, g, bl, _ := img.At(x, y).RGBA()
		d := func(a, c uint32) bool { a >>= 8; return a+4 >= c && a <= c+4 }
		return d(r, r0) && d(g, g0) && d(bl, b0)
	}
	longestCyan, crimson, inked := 0, 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		run := 0
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r>>8 < 250 || g>>8 < 250 || bl>>8 < 250 {
				inked++
			}
			if near(x, y, 0x20, 0xd0, 0xd0) {
				run++
				longestCyan = max(longestCyan, run)
			} else if near(x, y, 0x80, 0x80, 0x80) || near(x, y, 0, 0, 0) {
				// cell borders and header text interrupt the run
			} else {
				run = 0
			}
			if near(x, y, 0xb0, 0x00, 0x40) {
				crimson++
			}
		}
	}
	w, all := b.Dx(), b.Dx()*b.Dy()
	if longestCyan < w*9/10 {
		t.Errorf("the table header rows span %d of %d pixels: the tables are not laid out across the page", longestCyan, w)
	}
	if crimson < 500 {
		t.Errorf("%d crimson pixels: the proxy name headers are not drawn", crimson)
	}
	if inked < all/50 {
		t.Errorf("only %d of %d pixels are not white: the page is blank", inked, all)
	}
}
