// gostorm - the Go side of make bench's section 8: N dials at once from N
// goroutines (Go's netpoller: non-blocking connects from many threads),
// each sending "ping\n" and reading one line, which must be "proxied" (the
// bench's target answers so only to connections from the proxy).  Built
// with CGO_ENABLED=0, so statically linked: socksify runs it under its
// supervisor.  Standard library only.
//
//	gostorm N HOST:PORT
//
// Prints the milliseconds from the first dial to the last answer on
// stdout; exits 1 when any dial or answer failed (the first few errors on
// stderr), 2 on usage errors.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gostorm N HOST:PORT")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "gostorm: N: a positive number")
		os.Exit(2)
	}
	addr := os.Args[2]
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs int
	)
	fail := func(i int, what string, err error) {
		mu.Lock()
		defer mu.Unlock()
		errs++
		if errs <= 5 {
			fmt.Fprintf(os.Stderr, "gostorm: %d: %s: %v\n", i, what, err)
		}
	}
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			c, err := net.DialTimeout("tcp", addr, 60*time.Second)
			if err != nil {
				fail(i, "dial", err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			if _, err := c.Write([]byte("ping\n")); err != nil {
				fail(i, "write", err)
				return
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				fail(i, "read", err)
			} else if line != "proxied\n" {
				fail(i, "answer", fmt.Errorf("%q, not \"proxied\"", line))
			}
		}(i)
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	if errs > 0 {
		fmt.Fprintf(os.Stderr, "gostorm: %d of %d failed\n", errs, n)
		os.Exit(1)
	}
	fmt.Printf("%.1f\n", float64(time.Since(t0).Microseconds())/1000)
}
