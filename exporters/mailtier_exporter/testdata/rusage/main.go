// Command rusage runs a command with its own standard input and output,
// and prints to standard error the command's CPU time (user + system,
// nanoseconds) and peak RSS (KiB) from the kernel's account of it.
//
// The benchmarks start their children through it because a child started
// straight from the Go test binary reports the test binary's own peak RSS
// when that is the larger: Go starts children with CLONE_VM, and the
// kernel's ru_maxrss keeps the peak of the memory the child exec'ed from.
// This command's memory is a few MiB, below anything it measures.
package main

import "fmt"
import "os"
import "os/exec"
import "syscall"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: rusage command [arg ...]")
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout = os.Stdin, os.Stdout
	cmd.Stderr = os.Stderr
	err := cmd.Run()
	if cmd.ProcessState == nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	fmt.Fprintf(os.Stderr, "rusage: %d %d\n", ru.Utime.Nano()+ru.Stime.Nano(), ru.Maxrss)
	os.Exit(cmd.ProcessState.ExitCode())
}
