//go:build unix

package gateway

import (
	"errors"
	"net"
	"syscall"
)

// connAlive reports whether an idle connection is still open and has nothing unread: a peek that would block
// means the upstream has neither closed it nor sent anything (an answer nobody asked for, such as a 408
// before closing, means it is done with it too).
func connAlive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n < 0 && (errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK))
		return true
	})
	return err == nil && alive
}
