// Command linecount is the floor of the --once benchmarks: it counts the
// lines of its standard input with a stdlib bufio.Scanner and prints the
// count, the least work any reader of a log does.
package main

import "bufio"
import "fmt"
import "os"

func main() {
	s := bufio.NewScanner(os.Stdin)
	s.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for s.Scan() {
		n++
	}
	if err := s.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(n)
}
