// gostatic - a pure-Go program (CGO_ENABLED=0: statically linked, Go's own
// resolver) for the supervisor's lab, tests/lab/static.sh, which builds it
// with Debian's golang-go.  Standard library only.
//
//	gostatic get URL              net/http GET (no HTTP proxy, no keep-alive)
//	gostatic dial N HOST:PORT     N concurrent dials, each echoing one line
//	gostatic udp HOST:PORT        net.Dial("udp") + Write/Read, and
//	                              ListenPacket + WriteTo/ReadFrom
//	gostatic remote HOST:PORT     one dial: its RemoteAddr(), then an echo
//	gostatic lookup NAME          net.LookupIP through Go's resolver
//
// Like staticprobe, stdout gets only facts, "key=value" one per line, that
// are the same on every run; timings and errors go to stderr.  Errors are
// shown by their errno name (ECONNREFUSED, EACCES, ...) when there is one.
// Exit status 0 when the mode ran to its end, 1 when it stopped early, 2 on
// usage errors.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func fact(key, format string, args ...interface{}) {
	fmt.Printf("%s=%s\n", key, fmt.Sprintf(format, args...))
}

func note(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gostatic: "+format+"\n", args...)
}

var errnoNames = map[syscall.Errno]string{
	syscall.EACCES:       "EACCES",
	syscall.EPERM:        "EPERM",
	syscall.ENOSYS:       "ENOSYS",
	syscall.ECONNREFUSED: "ECONNREFUSED",
	syscall.ECONNRESET:   "ECONNRESET",
	syscall.ENETUNREACH:  "ENETUNREACH",
	syscall.EHOSTUNREACH: "EHOSTUNREACH",
	syscall.ETIMEDOUT:    "ETIMEDOUT",
	syscall.EINVAL:       "EINVAL",
	syscall.EBADF:        "EBADF",
	syscall.EAFNOSUPPORT: "EAFNOSUPPORT",
	syscall.EOPNOTSUPP:   "EOPNOTSUPP",
	syscall.EPROTO:       "EPROTO",
	syscall.EINPROGRESS:  "EINPROGRESS",
	syscall.EISCONN:      "EISCONN",
	syscall.ENOTCONN:     "ENOTCONN",
	syscall.EMSGSIZE:     "EMSGSIZE",
}

// errName: the errno's name inside err, "dns-..." for a resolver error,
// "timeout", or "error" (the details go to stderr).
func errName(err error) string {
	var en syscall.Errno
	if errors.As(err, &en) {
		if n, ok := errnoNames[en]; ok {
			return n
		}
		return "E" + strconv.Itoa(int(en))
	}
	var de *net.DNSError
	if errors.As(err, &de) {
		if de.IsNotFound {
			return "dns-notfound"
		}
		if de.IsTimeout {
			return "dns-timeout"
		}
		return "dns-error"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "error"
}

// classify shows an address of socksify's default placeholder ranges
// (127.192.0.0/10, 100::/64) as placeholder4/placeholder6.
func classify(ip net.IP) string {
	if v4 := ip.To4(); v4 != nil {
		if v4[0] == 127 && v4[1]&0xc0 == 0xc0 {
			return "placeholder4"
		}
		return v4.String()
	}
	if len(ip) == net.IPv6len && ip[0] == 1 && bytes.Equal(ip[1:8], make([]byte, 7)) {
		return "placeholder6"
	}
	return ip.String()
}

func classifyAddr(a net.Addr) string {
	switch t := a.(type) {
	case *net.TCPAddr:
		return net.JoinHostPort(classify(t.IP), strconv.Itoa(t.Port))
	case *net.UDPAddr:
		return net.JoinHostPort(classify(t.IP), strconv.Itoa(t.Port))
	}
	return a.String()
}

func modeGet(url string) int {
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		Timeout:   20 * time.Second,
	}
	t0 := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		note("GET %s: %v", url, err)
		fact("get", "%s", errName(err))
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	note("GET %s: %s, %d bytes in %v", url, resp.Status, len(body), time.Since(t0))
	fact("status", "%d", resp.StatusCode)
	if err != nil {
		fact("body", "read-%s", errName(err))
		return 1
	}
	fact("body", "%s", strings.TrimRight(string(body), "\n"))
	return 0
}

func modeDial(n int, addr string) int {
	var (
		wg                                sync.WaitGroup
		mu                                sync.Mutex
		connected, echoed, remoteOK, errs int
		slowest                           time.Duration
	)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			t0 := time.Now()
			c, err := net.DialTimeout("tcp", addr, 20*time.Second)
			took := time.Since(t0)
			mu.Lock()
			if took > slowest {
				slowest = took
			}
			if err != nil {
				errs++
				if errs <= 5 {
					note("dial %d: %v", i, err)
				}
				mu.Unlock()
				return
			}
			connected++
			if c.RemoteAddr().String() == addr {
				remoteOK++
			} else if remoteOK == 0 {
				note("dial %d: RemoteAddr %s, not %s", i, c.RemoteAddr(), addr)
			}
			mu.Unlock()
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			msg := []byte(fmt.Sprintf("gostatic dial %d\n", i))
			got := make([]byte, len(msg))
			if _, err := c.Write(msg); err == nil {
				_, err = io.ReadFull(c, got)
				if err == nil && bytes.Equal(got, msg) {
					mu.Lock()
					echoed++
					mu.Unlock()
				} else if err != nil {
					note("dial %d: echo: %v", i, err)
				}
			} else {
				note("dial %d: write: %v", i, err)
			}
		}(i)
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	note("%d dials done in %v (slowest dial %v); %d errors", n,
		time.Since(t0).Round(time.Millisecond), slowest.Round(time.Millisecond), errs)
	fact("dials", "%d", n)
	fact("connected", "%d", connected)
	fact("remote", "%d", remoteOK)
	fact("echoed", "%d", echoed)
	return 0
}

// udpReply: "echo" when msg comes back (from want, when given), else what
// went wrong.
func udpReply(pc net.PacketConn, c net.Conn, msg []byte, want string) string {
	buf := make([]byte, 2048)
	var (
		n    int
		from net.Addr
		err  error
	)
	deadline := time.Now().Add(3 * time.Second)
	if c != nil {
		c.SetReadDeadline(deadline)
		n, err = c.Read(buf)
	} else {
		pc.SetReadDeadline(deadline)
		n, from, err = pc.ReadFrom(buf)
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "noreply"
		}
		note("udp read: %v", err)
		return "read-" + errName(err)
	}
	if !bytes.Equal(buf[:n], msg) {
		return "other-reply"
	}
	if from != nil && want != "" {
		ua, ok := from.(*net.UDPAddr)
		wa, err := net.ResolveUDPAddr("udp", want)
		if !ok || err != nil || !ua.IP.Equal(wa.IP) || ua.Port != wa.Port {
			note("udp reply from %v, not %s", from, want)
			return "other-sender"
		}
	}
	return "echo"
}

func modeUDP(addr string) int {
	msg := []byte("gostatic udp dial")
	c, err := net.Dial("udp", addr)
	if err != nil {
		note("udp dial: %v", err)
		fact("dial", "%s", errName(err))
	} else if _, err := c.Write(msg); err != nil {
		note("udp write: %v", err)
		fact("dial", "write-%s", errName(err))
		c.Close()
	} else {
		fact("dial", "%s", udpReply(nil, c, msg, ""))
		c.Close()
	}

	msg = []byte("gostatic udp writeto")
	pc, err := net.ListenPacket("udp", ":0")
	if err != nil {
		note("listen: %v", err)
		fact("writeto", "listen-%s", errName(err))
		return 1
	}
	defer pc.Close()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		note("resolve %s: %v", addr, err)
		fact("writeto", "resolve-%s", errName(err))
		return 1
	}
	if _, err := pc.WriteTo(msg, ua); err != nil {
		note("udp writeto: %v", err)
		fact("writeto", "%s", errName(err))
	} else {
		fact("writeto", "%s", udpReply(pc, nil, msg, addr))
	}
	return 0
}

func modeRemote(addr string) int {
	c, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		note("dial %s: %v", addr, err)
		fact("dial", "%s", errName(err))
		return 1
	}
	defer c.Close()
	note("RemoteAddr %s, LocalAddr %s", c.RemoteAddr(), c.LocalAddr())
	fact("remote", "%s", classifyAddr(c.RemoteAddr()))
	c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := []byte("gostatic remote\n")
	got := make([]byte, len(msg))
	if _, err = c.Write(msg); err == nil {
		_, err = io.ReadFull(c, got)
	}
	if err != nil || !bytes.Equal(got, msg) {
		note("echo: %v", err)
		fact("echo", "failed")
		return 1
	}
	fact("echo", "ok")
	return 0
}

func modeLookup(name string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, name)
	if err != nil {
		note("lookup %s: %v", name, err)
		fact("lookup", "%s", errName(err))
		return 1
	}
	var got []string
	for _, ip := range ips {
		note("lookup %s: %s", name, ip.IP)
		got = append(got, classify(ip.IP))
	}
	sort.Strings(got)
	fact("lookup", "%s", strings.Join(got, " "))
	return 0
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: gostatic get URL | dial N HOST:PORT | udp HOST:PORT | remote HOST:PORT | lookup NAME")
	os.Exit(2)
}

func main() {
	a := os.Args[1:]
	if len(a) < 2 {
		usage()
	}
	// A watchdog: a call that never returns must not hang the suite.
	go func() {
		time.Sleep(30 * time.Second)
		fact("watchdog", "expired")
		os.Exit(3)
	}()
	switch {
	case a[0] == "get" && len(a) == 2:
		os.Exit(modeGet(a[1]))
	case a[0] == "dial" && len(a) == 3:
		n, err := strconv.Atoi(a[1])
		if err != nil || n < 1 {
			usage()
		}
		os.Exit(modeDial(n, a[2]))
	case a[0] == "udp" && len(a) == 2:
		os.Exit(modeUDP(a[1]))
	case a[0] == "remote" && len(a) == 2:
		os.Exit(modeRemote(a[1]))
	case a[0] == "lookup" && len(a) == 2:
		os.Exit(modeLookup(a[1]))
	}
	usage()
}
