package tlsconf

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// cipherSpecs are cipher strings from real configurations (the corpus) and
// the OpenSSL operators they exercise.
var cipherSpecs = []string{
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384",
	"ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES256:ECDH+AES128:!aNULL:!SHA1:!AESCCM",
	"ECDH+AESGCM:ECDH+AES128:ECDH+AES256:DH+AES128:DH+AES256:DH+CAMELLIA128:DH+CAMELLIA256:DH+SEEDCBC:RSA:!aNULL:!MD5:!eNULL:!RC4",
	"ECDH+AESGCM:DH+AESGCM:ECDH+AES256:DH+AES256:ECDH+AES128:DH+AES:RSA+AESGCM:RSA+AES:!aNULL:!MD5:!DSS",
	"ECDH+AESGCM:DH+AESGCM:ECDH+AES256:DH+AES256:ECDH+AES128:DH+AES:ECDH+3DES:DH+3DES:RSA+AESGCM:RSA+AES:RSA+3DES:!aNULL:!MD5:!DSS",
	"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:!MD5:!aNULL:!DH:!RC4",
	"AES256+EECDH:AES256+EDH:!aNULL",
	"HIGH:!aNULL:!MD5",
	"DEFAULT",
	"ALL:COMPLEMENTOFALL",
	"DEFAULT:-AES128:+AES256:@STRENGTH",
	"HIGH:-ECDHE:ECDHE-RSA-AES128-SHA",
	"HIGH:!ECDHE:ECDHE-RSA-AES128-SHA",
	"kRSA:aECDSA, CHACHA20 ; SHA384",
	"FOO:ECDHE-RSA-AES128-GCM-SHA256",
	"eNULL:TLSv1.2+AES128:@SECLEVEL=0",
}

// TestCiphersAgainstOpenSSL checks the selected set against `openssl
// ciphers` on this machine, the library HAProxy uses.
func TestCiphersAgainstOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	for _, spec := range cipherSpecs {
		t.Run(spec, func(t *testing.T) {
			out, err := exec.Command("openssl", "ciphers", "-ciphersuites", "", spec).Output()
			want := []string{}
			if err == nil {
				want = strings.Split(strings.TrimSpace(string(out)), ":")
			}
			sel, gerr := Ciphers(spec)
			if (gerr != nil) != (err != nil) {
				t.Fatalf("error: ours %v, openssl %v", gerr, err)
			}
			got := slices.Clone(sel.Names)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("selection differs\n ours:    %v\n openssl: %v", got, want)
			}
			if len(sel.Go)+len(sel.Lacking)+len(sel.Unusable) != len(sel.Names) {
				t.Fatalf("go %d + lacking %d != %d", len(sel.Go), len(sel.Lacking), len(sel.Names))
			}
		})
	}
}

func TestCiphersLacking(t *testing.T) {
	sel, err := Ciphers("ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA384")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sel.Lacking, []string{"ECDHE-RSA-AES256-SHA384", "DHE-RSA-AES128-GCM-SHA256"}) && !slices.Equal(sel.Lacking, []string{"DHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-SHA384"}) {
		t.Fatalf("lacking %v", sel.Lacking)
	}
	if len(sel.Go) != 1 || sel.Go[0] != 0xC02F {
		t.Fatalf("go %x", sel.Go)
	}
	if _, err := Ciphers("PROFILE=SYSTEM"); err != ErrNoCipherMatch {
		t.Fatalf("PROFILE=SYSTEM: %v", err)
	}
}

func TestCiphersuites(t *testing.T) {
	for _, tc := range []struct {
		name, spec       string
		err              bool
		names, extra, lk int
		usable           bool
	}{
		{"all three", "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256", false, 3, 0, 0, true},
		{"one", "TLS_AES_256_GCM_SHA384", false, 1, 2, 0, true},
		{"unknown skipped", "FOO:TLS_AES_256_GCM_SHA384", false, 1, 2, 0, true},
		{"ccm only", "TLS_AES_128_CCM_SHA256", false, 1, 3, 1, false},
		{"empty disables", "", false, 0, 0, 0, false},
		{"nothing known", "FOO", true, 0, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Ciphersuites(tc.spec)
			if (err != nil) != tc.err {
				t.Fatalf("err %v", err)
			}
			if len(s.Names) != tc.names || len(s.GoExtra) != tc.extra || len(s.Lacking) != tc.lk || s.Usable() != tc.usable {
				t.Fatalf("%+v usable=%v", s, s.Usable())
			}
		})
	}
}

func TestMethodsRange(t *testing.T) {
	for _, tc := range []struct {
		name    string
		m       Methods
		lo, hi  int
		ignored bool
		ok      bool
	}{
		{"defaults", Methods{}, TLSv12, TLSv13, false, true},
		{"no-tlsv11 keeps the default minimum", Methods{Disabled: 1 << TLSv11}, TLSv12, TLSv13, false, true},
		{"min 1.0", Methods{Min: TLSv10}, TLSv10, TLSv13, false, true},
		{"force 1.2", Methods{Min: TLSv12, Max: TLSv12}, TLSv12, TLSv12, false, true},
		{"no-tlsv13", Methods{Disabled: 1 << TLSv13}, TLSv12, TLSv12, false, true},
		{"no-tlsv12", Methods{Disabled: 1 << TLSv12}, TLSv13, TLSv13, false, true},
		{"no-tlsv12 no-tlsv13", Methods{Disabled: 1<<TLSv12 | 1<<TLSv13}, 0, 0, false, false},
		{"force sslv3", Methods{Min: SSLv3, Max: SSLv3}, 0, 0, false, false},
		{"flags ignored with bounds", Methods{Min: TLSv10, Disabled: 1 << TLSv11}, TLSv10, TLSv13, true, true},
		{"max only", Methods{Max: TLSv12}, TLSv10, TLSv12, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi, ign, ok := tc.m.Range()
			if lo != tc.lo || hi != tc.hi || ign != tc.ignored || ok != tc.ok {
				t.Fatalf("got %d %d %v %v", lo, hi, ign, ok)
			}
		})
	}
}

func TestCurves(t *testing.T) {
	s, err := Curves("X25519:P-256:X448:prime256v1")
	if err != nil || len(s.Go) != 2 || len(s.Lacking) != 1 {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := Curves("X448"); err == nil {
		t.Fatal("X448 alone accepted")
	}
	if _, err := Curves("P-999"); err == nil {
		t.Fatal("unknown curve accepted")
	}
}

func FuzzCiphers(f *testing.F) {
	for _, s := range cipherSpecs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		sel, err := Ciphers(spec)
		if err == nil && len(sel.Names) == 0 {
			t.Fatal("no error on an empty selection")
		}
		_, _ = Ciphersuites(spec)
		_, _ = Curves(spec)
	})
}
