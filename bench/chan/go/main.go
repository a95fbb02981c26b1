// chanbench (Go): the workloads of bench/chan/chanbench.c with goroutines,
// or with every goroutine locked to its OS thread (-locked: what a C thread is).
//   chanbench [-locked] WORKLOAD N
// Prints "ns=<ns per round trip / item / append> rss_kib=<peak RSS>".
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

var locked bool

func lock() {
	if locked {
		runtime.LockOSThread()
	}
}

func pingpong(n int) float64 {
	a, b := make(chan int), make(chan int)
	t0 := time.Now()
	go func() {
		lock()
		for i := 0; i < n; i++ {
			v := <-a
			b <- v + 1
		}
	}()
	for i := 0; i < n; i++ {
		a <- i
		if <-b != i+1 {
			panic("pingpong")
		}
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func mpmc(n, np, nc, capacity int) float64 {
	c := make(chan int, capacity)
	var pw, cw sync.WaitGroup
	sums := make([]int, nc)
	t0 := time.Now()
	for i := 0; i < nc; i++ {
		cw.Add(1)
		go func(i int) {
			defer cw.Done()
			lock()
			s := 0
			for v := range c {
				s += v
			}
			sums[i] = s
		}(i)
	}
	per := n / np
	for i := 0; i < np; i++ {
		pw.Add(1)
		go func() {
			defer pw.Done()
			lock()
			for k := 0; k < per; k++ {
				c <- k
			}
		}()
	}
	pw.Wait()
	close(c)
	cw.Wait()
	s := 0
	for _, x := range sums {
		s += x
	}
	if s != np*(per*(per-1)/2) {
		panic("mpmc")
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func select4(n int) float64 {
	var cs [4]chan int
	for k := range cs {
		cs[k] = make(chan int, 128)
	}
	per := n / 4
	t0 := time.Now()
	for k := 0; k < 4; k++ {
		go func(c chan int) {
			lock()
			for i := 0; i < per; i++ {
				c <- i
			}
		}(cs[k])
	}
	s := 0
	for got := 0; got < per*4; got++ {
		select {
		case v := <-cs[0]:
			s += v
		case v := <-cs[1]:
			s += v
		case v := <-cs[2]:
			s += v
		case v := <-cs[3]:
			s += v
		}
	}
	if s != 4*(per*(per-1)/2) {
		panic("select4")
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

var sink []int
var keep [][]int

func appendOne(n int) float64 {
	t0 := time.Now()
	var s []int
	for i := 0; i < n; i++ {
		s = append(s, i)
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	sink = s
	return ns
}

func append16(n int) float64 {
	var b [16]int
	for i := range b {
		b[i] = i
	}
	t0 := time.Now()
	var s []int
	for i := 0; i < n/16; i++ {
		s = append(s, b[:]...)
	}
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n/16)
	sink = s
	return ns
}

func keep16(n int) float64 {
	keep = make([][]int, n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		var s []int
		for k := 0; k < 16; k++ {
			s = append(s, i+k)
		}
		keep[i] = s
	}
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "-locked" {
		locked = true
		args = args[1:]
	}
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chanbench [-locked] WORKLOAD N")
		os.Exit(2)
	}
	lock()
	n, _ := strconv.Atoi(args[1])
	var ns float64
	switch args[0] {
	case "pingpong":
		ns = pingpong(n)
	case "b11":
		ns = mpmc(n, 1, 1, 1024)
	case "b44":
		ns = mpmc(n, 4, 4, 128)
	case "select4":
		ns = select4(n)
	case "append":
		ns = appendOne(n)
	case "append16":
		ns = append16(n)
	case "keep16":
		ns = keep16(n)
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", args[0])
		os.Exit(2)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("ns=%.1f rss_kib=%d\n", ns, ru.Maxrss)
}
