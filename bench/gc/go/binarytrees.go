package main

import (
	"fmt"
	"time"
)

// Benchmarks Game binary-trees, one goroutine (see ../binarytrees.c).

type btNode struct{ left, right *btNode }

func bottomUp(depth int) *btNode {
	if depth <= 0 {
		return &btNode{}
	}
	return &btNode{bottomUp(depth - 1), bottomUp(depth - 1)}
}

func (n *btNode) check() int64 {
	if n.left == nil {
		return 1
	}
	return 1 + n.left.check() + n.right.check()
}

func binaryTrees(n int) {
	const minDepth = 4
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	start = time.Now()
	var sum int64
	c := bottomUp(maxDepth + 1).check()
	if c != (2<<(maxDepth+1))-1 {
		fail("stretch tree check", uint64(c), (2<<(maxDepth+1))-1)
	}
	fmt.Printf("stretch tree of depth %d\t check: %d\n", maxDepth+1, c)
	sum += c
	longLived := bottomUp(maxDepth)
	for d := minDepth; d <= maxDepth; d += 2 {
		iters := int64(1) << (maxDepth - d + minDepth)
		var chk int64
		for i := int64(0); i < iters; i++ {
			chk += bottomUp(d).check()
		}
		if chk != iters*((2<<d)-1) {
			fail("trees check", uint64(chk), uint64(iters*((2<<d)-1)))
		}
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iters, d, chk)
		sum += chk
	}
	c = longLived.check()
	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, c)
	if c != (2<<maxDepth)-1 {
		fail("long-lived tree check", uint64(c), (2<<maxDepth)-1)
	}
	sum += c
	fmt.Printf("RESULT workload=binarytrees impl=go depth=%d checksum=%d secs=%.3f\n", maxDepth, sum, secs())
}
