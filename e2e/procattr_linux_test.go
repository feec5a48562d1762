package e2e

import "syscall"

// childProcAttr kills child processes when the test binary dies, even when it is killed before its cleanups.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
