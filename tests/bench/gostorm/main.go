// gostorm - the Go side of make bench's section 8: N dials at once from N
// goroutines (Go's netpoller: non-blocking connects from many threads),
// each sending "ping\n" and reading one line, which must be "proxied" (the
// bench's target answers so only to connections from the proxy).  Built
// with CGO_ENABLED=0, so statically linked: socksify runs it under its
// supervisor.  Standard library only.
//
//	gostorm [--socks PROXY:PORT] N HOST:PORT
//
// --socks: the reference, Go doing SOCKS5 itself (no authentication,
// CONNECT to HOST:PORT given as an IPv4 address or a name) on the same
// goroutines, instead of socksify's supervisor doing it.  Prints the milliseconds from the first dial to the last answer on
// stdout; exits 1 when any dial or answer failed (the first few errors on
// stderr), 2 on usage errors.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// socksConnect: a SOCKS5 CONNECT to addr on c, a connection to the proxy.
func socksConnect(c net.Conn, addr string) error {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return err
	}
	// The greeting, then the request once it is answered (no pipelining,
	// as socksify does by default).
	if _, err := c.Write([]byte{5, 1, 0}); err != nil {
		return err
	}
	r := make([]byte, 2+4+255+2)
	if _, err := io.ReadFull(c, r[:2]); err != nil {
		return err
	}
	if r[0] != 5 || r[1] != 0 {
		return fmt.Errorf("SOCKS5 greeting refused: % x", r[:2])
	}
	req := []byte{5, 1, 0}
	if ip := net.ParseIP(host).To4(); ip != nil {
		req = append(append(req, 1), ip...)
	} else {
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = binary.BigEndian.AppendUint16(req, uint16(port))
	if _, err := c.Write(req); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, r[:4]); err != nil {
		return err
	}
	if r[0] != 5 || r[1] != 0 {
		return fmt.Errorf("SOCKS5 CONNECT refused: % x", r[:4])
	}
	alen := map[byte]int{1: 4, 4: 16}[r[3]]
	if r[3] == 3 {
		if _, err := io.ReadFull(c, r[:1]); err != nil {
			return err
		}
		alen = int(r[0])
	} else if alen == 0 {
		return errors.New("SOCKS5 reply: bad address type")
	}
	_, err = io.ReadFull(c, r[:alen+2])
	return err
}

func main() {
	args := os.Args[1:]
	proxy := ""
	if len(args) == 4 && args[0] == "--socks" {
		proxy, args = args[1], args[2:]
	}
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gostorm [--socks PROXY:PORT] N HOST:PORT")
		os.Exit(2)
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "gostorm: N: a positive number")
		os.Exit(2)
	}
	addr := args[1]
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
			to := addr
			if proxy != "" {
				to = proxy
			}
			c, err := net.DialTimeout("tcp", to, 60*time.Second)
			if err != nil {
				fail(i, "dial", err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			if proxy != "" {
				if err := socksConnect(c, addr); err != nil {
					fail(i, "socks", err)
					return
				}
			}
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
