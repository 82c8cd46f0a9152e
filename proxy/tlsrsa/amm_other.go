//go:build !amd64

package tlsrsa

const useIFMA = false

func amm52x2(z1, x1, y1, m1 *nat52, k1 uint64, z2, x2, y2, m2 *nat52, k2 uint64) {
	panic("tlsrsa: no AVX-512 IFMA")
}

func lookup2(z1, z2 *nat52, t1, t2 *table, idx1, idx2 uint64) {
	panic("tlsrsa: no AVX-512 IFMA")
}
