package main

import (
	"fmt"
	"time"
)

// GCBench, Ellis/Kovac/Boehm style (see ../gcbench.c).

type gcNode struct {
	left, right *gcNode
	i, j        int32
}

var made int64

func treeSize(d int) int64 { return (int64(1) << (d + 1)) - 1 }

func populate(depth int, n *gcNode) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = &gcNode{i: int32(depth)}
	n.right = &gcNode{i: int32(depth)}
	made += 2
	populate(depth, n.left)
	populate(depth, n.right)
}

func makeTree(depth int) *gcNode {
	made++
	if depth <= 0 {
		return &gcNode{}
	}
	return &gcNode{left: makeTree(depth - 1), right: makeTree(depth - 1), i: int32(depth)}
}

func countTree(n *gcNode, depth int) int64 {
	if n.left == nil {
		if depth != 0 {
			fail("long-lived leaf depth", uint64(depth), 0)
		}
		return 1
	}
	return 1 + countTree(n.left, depth-1) + countTree(n.right, depth-1)
}

var sink *gcNode

func gcBench(stretch, longLivedDepth, arrayLen, minDepth, maxDepth int) {
	start = time.Now()
	sink = makeTree(stretch)
	sink = nil

	longLived := &gcNode{}
	made++
	populate(longLivedDepth, longLived)

	array := make([]float64, arrayLen)
	for i := range array {
		array[i] = 1.0 / float64(i+1)
	}

	for d := minDepth; d <= maxDepth; d += 2 {
		iters := 2 * treeSize(stretch) / treeSize(d)
		for i := int64(0); i < iters; i++ {
			t := &gcNode{i: int32(d)}
			made++
			populate(d, t)
			sink = t
		}
		for i := int64(0); i < iters; i++ {
			sink = makeTree(d)
		}
		sink = nil
	}

	ll := countTree(longLived, longLivedDepth)
	if ll != treeSize(longLivedDepth) {
		fail("long-lived tree size", uint64(ll), uint64(treeSize(longLivedDepth)))
	}
	for i := 0; i < arrayLen; i += 997 {
		if array[i] != 1.0/float64(i+1) {
			fail("array element", uint64(i), uint64(i))
		}
	}
	fmt.Printf("RESULT workload=gcbench impl=go checksum=%d secs=%.3f\n", made+ll, secs())
}
