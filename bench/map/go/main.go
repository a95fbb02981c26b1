// The map benchmark's Go twin: the same workloads as ../workloads.h on Go's
// built-in map (map[uint64]uint64 and map[string]uint64).
// Usage: mapbench-go N [quick|default|long]; prints RESULT lines.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

func splitmix64(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func report(w string, n int, ns float64) {
	fmt.Printf("RESULT impl=go n=%d workload=%s ns_per_op=%.3f\n", n, w, ns)
}

func heapAlloc() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

var sink uint64

func main() {
	nf, _ := strconv.ParseFloat(os.Args[1], 64)
	n := int(nf)
	mode := "default"
	if len(os.Args) > 2 {
		mode = os.Args[2]
	}
	target := 3e6
	if mode == "quick" {
		target = 1e6
	} else if mode == "long" {
		target = 1e7
	}
	reps := 3
	if n >= 5000000 {
		reps = 1
	}
	rounds := int(target / float64(reps) / float64(n))
	if rounds < 1 {
		rounds = 1
	}
	keys := make([]uint64, n)
	miss := make([]uint64, n)
	strs := make([]string, n)
	s1, s2 := uint64(1), uint64(2)
	for i := 0; i < n; i++ {
		keys[i] = splitmix64(&s1)
		miss[i] = splitmix64(&s2)
		strs[i] = fmt.Sprintf("%016x", keys[i])
	}

	{
		nm := 1
		if n < 100000 {
			nm = 100000 / n
		}
		ms := make([]map[uint64]uint64, nm)
		before := heapAlloc()
		for j := range ms {
			ms[j] = make(map[uint64]uint64)
			for i := 0; i < n; i++ {
				ms[j][keys[i]] = uint64(i + 1)
			}
		}
		after := heapAlloc()
		fmt.Printf("RESULT impl=go n=%d workload=bytes_per_entry value=%.2f\n", n,
			float64(after-before)/float64(nm*n))
		runtime.KeepAlive(ms)
	}
	for hinted := 0; hinted < 2; hinted++ {
		best := 1e300
		for r := 0; r < reps; r++ {
			var tot time.Duration
			for k := 0; k < rounds; k++ {
				t0 := time.Now()
				hint := 0
				if hinted == 1 {
					hint = n
				}
				m := make(map[uint64]uint64, hint)
				for i := 0; i < n; i++ {
					m[keys[i]] = uint64(i + 1)
				}
				tot += time.Since(t0)
				runtime.KeepAlive(m)
			}
			if t := float64(tot.Nanoseconds()) / float64(rounds*n); t < best {
				best = t
			}
		}
		if hinted == 1 {
			report("insert_hint", n, best)
		} else {
			report("insert", n, best)
		}
	}

	m := make(map[uint64]uint64)
	for i := 0; i < n; i++ {
		m[keys[i]] = uint64(i + 1)
	}
	var acc uint64
	for w := 0; w < 3; w++ {
		best := 1e300
		for r := 0; r < reps; r++ {
			t0 := time.Now()
			for k := 0; k < rounds; k++ {
				switch w {
				case 0:
					for _, key := range keys {
						if v, ok := m[key]; ok {
							acc += v
						}
					}
				case 1:
					for _, key := range miss {
						if v, ok := m[key]; ok {
							acc += v
						}
					}
				default:
					for _, v := range m {
						acc += v
					}
				}
			}
			if t := float64(time.Since(t0).Nanoseconds()) / float64(rounds*n); t < best {
				best = t
			}
		}
		report([]string{"hit", "miss", "iterate"}[w], n, best)
	}
	if acc != uint64(n)*uint64(n+1)/2*uint64(rounds*reps)*2 {
		fmt.Fprintln(os.Stderr, "go: wrong sum")
		os.Exit(1)
	}

	// big (one repetition of one round, N = 1e7 in default mode): the
	// deletes use the lookups' map and the string lookups the last string
	// insert's map, as in workloads.h (fewer untimed builds).
	big := reps == 1 && rounds == 1
	best := 1e300
	for r := 0; r < reps; r++ {
		var tot time.Duration
		for k := 0; k < rounds; k++ {
			if !big {
				m = make(map[uint64]uint64)
				for i := 0; i < n; i++ {
					m[keys[i]] = uint64(i + 1)
				}
			}
			t0 := time.Now()
			for _, key := range keys {
				delete(m, key)
			}
			tot += time.Since(t0)
			if len(m) != 0 {
				os.Exit(1)
			}
		}
		if t := float64(tot.Nanoseconds()) / float64(rounds*n); t < best {
			best = t
		}
	}
	report("delete", n, best)
	m = nil

	best = 1e300
	var s map[string]uint64
	for r := 0; r < reps; r++ {
		var tot time.Duration
		for k := 0; k < rounds; k++ {
			t0 := time.Now()
			s1 := make(map[string]uint64)
			for i := 0; i < n; i++ {
				s1[strs[i]] = uint64(i + 1)
			}
			tot += time.Since(t0)
			runtime.KeepAlive(s1)
			if big {
				s = s1
			}
		}
		if t := float64(tot.Nanoseconds()) / float64(rounds*n); t < best {
			best = t
		}
	}
	report("str_insert", n, best)
	if s == nil {
		s = make(map[string]uint64)
		for i := 0; i < n; i++ {
			s[strs[i]] = uint64(i + 1)
		}
	}
	best = 1e300
	acc = 0
	for r := 0; r < reps; r++ {
		t0 := time.Now()
		for k := 0; k < rounds; k++ {
			for _, key := range strs {
				if v, ok := s[key]; ok {
					acc += v
				}
			}
		}
		if t := float64(time.Since(t0).Nanoseconds()) / float64(rounds*n); t < best {
			best = t
		}
	}
	if acc != uint64(n)*uint64(n+1)/2*uint64(rounds*reps) {
		fmt.Fprintln(os.Stderr, "go: wrong string sum")
		os.Exit(1)
	}
	report("str_hit", n, best)
	sink = acc
}
