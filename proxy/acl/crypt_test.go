package acl

import "testing"

// TestCrypt checks every crypt(3) scheme HAProxy's `password` accepts on
// Debian 12 against hashes made on this machine by mkpasswd (libxcrypt):
// `mkpasswd -m METHOD PASSWORD`.
func TestCrypt(t *testing.T) {
	tests := []struct {
		name, hash, pass string
	}{
		{"yescrypt (Debian default)", "$y$j9T$/fi6HqIPNLE89AHExBjbt1$IeI9249yxuAakTmKC23zsd4SP125hrEEa87Ape5R1l/", "secret pw"},
		{"yescrypt -R 3", "$y$j7T$0dBMk0J9M2dYsfKDXyqIP/$wm01764ysSHZ4OFTyMYT4.JlipTBHr4Db/00M0c2uB.", "pw"},
		{"md5crypt", "$1$qC8jTggL$Ma0w030sa3./75PwCMenj0", "secret pw"},
		{"bcrypt 2b", "$2b$05$IImqnEA1k/3Y/rEfMSOR3OvZr7lkdor4bLEnjUZRTNRXpcZ07If2q", "secret pw"},
		{"bcrypt 2a", "$2a$05$7GSWVlENVDLOZfPPAdIgIOEJr9hqwpRgMYkOEk3jVTlpajzuPYVBa", "secret pw"},
		{"bcrypt 2b -R 4", "$2b$05$wF1Yo7JIrOJzH0SLCbpBoerokeqs/IyFpHXpg8pU0abj5BBHAGtMG", "pw"},
		{"sha512crypt", "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1", "secret"},
		{"sha256crypt", "$5$saltsalt$0IyaXrmV7.sGNS6tirgqHLqX/G.FBvgkYA.lpPdS5sA", "secret"},
		{"descrypt", "1e8I8ZQKw0IcE", "secret pw"},
		{"descrypt salt ab", "abzlUXK5ed5rs", "pw"},
		{"descrypt reads 8 characters", "abD6HAB6eqg.k", "longpassword"},
		{"bsdicrypt", "_J9..LI0PWlgkZPJb9bc", "secret pw"},
		{"bsdicrypt long password", "_J9..WaeDsdnYEnnwC5M", "a very long password indeed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !checkCrypt(tc.hash, []byte(tc.pass)) {
				t.Errorf("%s does not verify %q", tc.hash, tc.pass)
			}
			if checkCrypt(tc.hash, []byte("X"+tc.pass[1:])) {
				t.Errorf("%s verifies a wrong password", tc.hash)
			}
		})
	}
}

// TestCryptRefusesMalformed: hashes that are not one of the schemes, or
// are damaged, never verify (and never panic).
func TestCryptRefusesMalformed(t *testing.T) {
	for _, h := range []string{"", "$y$", "$y$j9T$", "$y$j9T$abc", "$y$~~~$salt$hash", "$1$", "$1$salt",
		"$2b$05$short", "$7$abc", "_J9..", "_....abcdxxxxxxxxxxx", "a", "plain-text", "$6$", "$5$rounds=x$a$b"} {
		if checkCrypt(h, []byte("pw")) {
			t.Errorf("%q verifies", h)
		}
	}
}

func BenchmarkYescrypt(b *testing.B) {
	for range b.N {
		checkCrypt("$y$j9T$/fi6HqIPNLE89AHExBjbt1$IeI9249yxuAakTmKC23zsd4SP125hrEEa87Ape5R1l/", []byte("secret pw"))
	}
}
