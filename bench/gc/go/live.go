package main

import (
	"fmt"
	"sort"
	"time"
)

// A big live heap with steady churn (see ../live.c).

type item struct {
	next          *item
	key, idx, pos uint64
}

const unit = 1000

func makeList(idx, length, key uint64) *item {
	var head *item
	for p := uint64(1); p <= length; p++ {
		head = &item{next: head, key: key + p, idx: idx, pos: p}
	}
	return head
}

func takeList(it *item, idx uint64) uint64 {
	var sum, pos uint64
	if it != nil {
		pos = it.pos
	}
	if pos < 1 || pos > 7 {
		fail("list length", pos, idx)
	}
	for ; it != nil; it = it.next {
		if it.idx != idx {
			fail("node index", it.idx, idx)
		}
		if it.pos != pos {
			fail("node position", it.pos, pos)
		}
		sum += it.key
		pos--
	}
	if pos != 0 {
		fail("list ends early", pos, 0)
	}
	return sum
}

func live(liveMiB, churn float64) {
	n := uint64(liveMiB * 1048576.0 / (8 + 4*32))
	reps := uint64(churn * float64(n))
	reps -= reps % unit
	var seed, sum uint64 = 42, 0
	start = time.Now()

	slots := make([]*item, n)
	var buildMax time.Duration
	t := time.Now()
	for i := uint64(0); i < n; i++ {
		r := splitmix64(&seed)
		slots[i] = makeList(i, 1+r%7, r>>8)
		if (i+1)%unit == 0 {
			u := time.Now()
			if d := u.Sub(t); d > buildMax {
				buildMax = d
			}
			t = u
		}
	}
	built := time.Now()

	var unitMax time.Duration
	units := reps / unit
	unitNs := make([]int64, units) // for the percentiles
	t = time.Now()
	for u := uint64(0); u < units; u++ {
		for k := 0; k < unit; k++ {
			r := splitmix64(&seed)
			i := (r >> 3) % n
			sum += takeList(slots[i], i)
			slots[i] = makeList(i, 1+r%7, r>>8)
		}
		e := time.Now()
		if d := e.Sub(t); d > unitMax {
			unitMax = d
		}
		unitNs[u] = e.Sub(t).Nanoseconds()
		t = e
	}
	churned := time.Now()
	sort.Slice(unitNs, func(a, b int) bool { return unitNs[a] < unitNs[b] })
	pct := func(permille uint64) int64 { // nearest rank
		if units == 0 {
			return 0
		}
		k := (units*permille + 999) / 1000
		if k == 0 {
			k = 1
		}
		return unitNs[k-1]
	}
	for i := uint64(0); i < n; i++ {
		sum += takeList(slots[i], i)
	}
	var avg int64
	if units > 0 {
		avg = churned.Sub(built).Nanoseconds() / int64(units)
	}
	fmt.Printf("RESULT workload=live impl=go entries=%d replacements=%d checksum=%d secs=%.3f build_secs=%.3f churn_secs=%.3f unit_max_ns=%d unit_avg_ns=%d build_unit_max_ns=%d unit_p50_ns=%d unit_p99_ns=%d unit_p999_ns=%d\n",
		n, reps, sum, secs(), built.Sub(start).Seconds(), churned.Sub(built).Seconds(),
		unitMax.Nanoseconds(), avg, buildMax.Nanoseconds(), pct(500), pct(990), pct(999))
}
