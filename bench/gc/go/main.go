// The Go twin of bench/gc/*.c: the same three workloads, written in Go the
// way a Go programmer would (new objects, nothing freed, GOGC=100).
// Usage: gcbench-go binarytrees [MAX_DEPTH]
//        gcbench-go gcbench [STRETCH LONG_LIVED ARRAY_LEN MIN MAX]
//        gcbench-go live [LIVE_MIB CHURN]
// Prints the same RESULT / GC / PAUSES_NS lines as the C programs (see
// ../impl.h).
package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"
)

func fail(what string, got, want uint64) {
	fmt.Fprintf(os.Stderr, "FAILED %s: got %d, want %d\n", what, got, want)
	os.Exit(3)
}

func argInt(args []string, i int, def int) int {
	if len(args) > i {
		v, err := strconv.Atoi(args[i])
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad argument %q\n", args[i])
			os.Exit(2)
		}
		return v
	}
	return def
}

func argFloat(args []string, i int, def float64) float64 {
	if len(args) > i {
		v, err := strconv.ParseFloat(args[i], 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bad argument %q\n", args[i])
			os.Exit(2)
		}
		return v
	}
	return def
}

// report prints the GC line: NumGC, the pauses of the last min(NumGC, 256)
// cycles (PauseNs: each the sum of the cycle's two stop-the-world pauses),
// their exact total (PauseTotalNs) and the maximum. PauseNs only keeps 256
// cycles, so the maximum also takes the histogram of every stop-the-world
// pause (/gc/pauses:seconds, buckets about 6% wide; the lower bound of the
// highest non-empty bucket is used) into account.
func report() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	known := ms.NumGC
	if known > 256 {
		known = 256
	}
	var max uint64
	pauses := make([]string, 0, known)
	for k := ms.NumGC - known; k < ms.NumGC; k++ {
		p := ms.PauseNs[k%256]
		if p > max {
			max = p
		}
		pauses = append(pauses, strconv.FormatUint(p, 10))
	}
	s := []metrics.Sample{{Name: "/gc/pauses:seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindFloat64Histogram {
		h := s[0].Value.Float64Histogram()
		for i := len(h.Counts) - 1; i >= 0; i-- {
			if h.Counts[i] > 0 {
				if lo := uint64(h.Buckets[i] * 1e9); lo > max {
					max = lo
				}
				break
			}
		}
	}
	fmt.Printf("GC num_gc=%d pause_max_ns=%d pause_total_ns=%d pauses_known=%d\nPAUSES_NS %s\n",
		ms.NumGC, max, ms.PauseTotalNs, known, strings.Join(pauses, " "))
}

func splitmix64(s *uint64) uint64 {
	*s += 0x9e3779b97f4a7c15
	z := *s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gcbench-go binarytrees|gcbench|live [ARGS]")
		os.Exit(2)
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "binarytrees":
		binaryTrees(argInt(args, 0, 21))
	case "gcbench":
		if len(args) > 4 {
			gcBench(argInt(args, 0, 0), argInt(args, 1, 0), argInt(args, 2, 0), argInt(args, 3, 0), argInt(args, 4, 0))
		} else {
			gcBench(18, 16, 500000, 4, 16)
		}
	case "live":
		live(argFloat(args, 0, 1024), argFloat(args, 1, 2))
	default:
		fmt.Fprintf(os.Stderr, "unknown workload %q\n", os.Args[1])
		os.Exit(2)
	}
	report()
}

var start = time.Now()

func secs() float64 { return time.Since(start).Seconds() }
