//go:build !linux

// Command spalloc-bench measures a v1 spalloc server; it drives its
// connections with epoll and so runs on Linux only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "spalloc-bench: runs on Linux only (it drives its connections with epoll)")
	os.Exit(1)
}
