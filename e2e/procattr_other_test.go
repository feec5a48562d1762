//go:build !linux

package e2e

import "syscall"

// childProcAttr has no portable way to tie a child's life to the test binary's outside Linux; the tests'
// cleanups stop the children.
func childProcAttr() *syscall.SysProcAttr { return nil }
