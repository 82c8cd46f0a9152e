package tlsrsa

import (
	"crypto/rand"
	"math/big"
	mrand "math/rand"
	"testing"
)

func randPrime(t testing.TB) *big.Int {
	p, err := rand.Prime(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// randBelow returns a random number below n as limbs.
func randBelow(rng *mrand.Rand, n *big.Int) (*big.Int, nat52) {
	x := new(big.Int).Rand(rng, n)
	return x, fromBig(x)
}

// TestAMMAgainstBig: ammGeneric and the assembly compute x·y/R mod m,
// below 2m, for inputs below 4m.
func TestAMMAgainstBig(t *testing.T) {
	rng := mrand.New(mrand.NewSource(1))
	r := new(big.Int).Lsh(big.NewInt(1), rBits)
	for k := 0; k < 4; k++ {
		p, q := randPrime(t), randPrime(t)
		mp, mq := newModulus(p), newModulus(q)
		rinvP := new(big.Int).ModInverse(r, p)
		rinvQ := new(big.Int).ModInverse(r, q)
		for i := 0; i < 200; i++ {
			bx, x := randBelow(rng, new(big.Int).Lsh(p, 2))
			by, y := randBelow(rng, new(big.Int).Lsh(p, 1))
			bx2, x2 := randBelow(rng, new(big.Int).Lsh(q, 2))
			by2, y2 := randBelow(rng, new(big.Int).Lsh(q, 1))
			want := new(big.Int).Mul(bx, by)
			want.Mul(want, rinvP).Mod(want, p)
			want2 := new(big.Int).Mul(bx2, by2)
			want2.Mul(want2, rinvQ).Mod(want2, q)
			var z nat52
			ammGeneric(&z, &x, &y, &mp.m, mp.k0)
			check(t, "generic", &z, want, p)
			if useIFMA {
				var z1, z2 nat52
				amm52x2(&z1, &x, &y, &mp.m, mp.k0, &z2, &x2, &y2, &mq.m, mq.k0)
				if z1 != z {
					t.Fatalf("assembly differs from ammGeneric:\n%v\n%v", z1, z)
				}
				check(t, "assembly (second)", &z2, want2, q)
				// Aliased output and inputs, as the squarings use them.
				amm52x2(&x, &x, &x, &mp.m, mp.k0, &x2, &x2, &x2, &mq.m, mq.k0)
				sq := new(big.Int).Mul(bx, bx)
				sq.Mul(sq, rinvP).Mod(sq, p)
				check(t, "assembly (aliased)", &x, sq, p)
			}
		}
	}
	if !useIFMA {
		t.Log("no AVX-512 IFMA here: only the generic code was checked")
	}
}

// check verifies z ≡ want (mod m), z < 2m, limbs normalized.
func check(t *testing.T, what string, z *nat52, want, m *big.Int) {
	t.Helper()
	for i := range z {
		if z[i] > mask52 || (i >= limbs && z[i] != 0) {
			t.Fatalf("%s: limb %d not normalized: %x", what, i, z[i])
		}
	}
	got := toBig(z)
	if got.Cmp(new(big.Int).Lsh(m, 1)) >= 0 {
		t.Fatalf("%s: result not below 2m", what)
	}
	if got.Mod(got, m).Cmp(want) != 0 {
		t.Fatalf("%s: wrong result", what)
	}
}

// TestLimbBytes: limbsFromBytes and bytesFromLimbs are inverses and agree
// with math/big.
func TestLimbBytes(t *testing.T) {
	rng := mrand.New(mrand.NewSource(2))
	for i := 0; i < 1000; i++ {
		x := new(big.Int).Rand(rng, new(big.Int).Lsh(big.NewInt(1), 2048))
		be := x.FillBytes(make([]byte, 256))
		l := make([]uint64, 40)
		limbsFromBytes(l, be)
		back := make([]byte, 256)
		bytesFromLimbs(back, l)
		if string(back) != string(be) {
			t.Fatalf("round trip differs for %x", be)
		}
		y := new(big.Int)
		for k := len(l) - 1; k >= 0; k-- {
			y.Lsh(y, 52).Or(y, new(big.Int).SetUint64(l[k]))
		}
		if y.Cmp(x) != 0 {
			t.Fatalf("limbs of %x wrong", be)
		}
	}
}

// TestLookup: the assembly table read returns the entry asked for.
func TestLookup(t *testing.T) {
	if !useIFMA {
		t.Skip("no AVX-512 IFMA")
	}
	var t1, t2 table
	for i := range t1 {
		for j := 0; j < limbs; j++ {
			t1[i][j] = uint64(i*1000 + j)
			t2[i][j] = uint64(i*7000 + 3*j)
		}
	}
	for i := uint64(0); i < 32; i++ {
		var z1, z2, w1, w2 nat52
		lookup2(&z1, &z2, &t1, &t2, i, 31-i)
		lookup(&w1, &t1, i)
		lookup(&w2, &t2, 31-i)
		if z1 != t1[i] || z2 != t2[31-i] || w1 != t1[i] || w2 != t2[31-i] {
			t.Fatalf("entry %d read wrong", i)
		}
	}
}
