// Package realworld holds the test that replays testdata/realworld: log
// lines written by other installations than the lab's (public test logs,
// bug reports, articles), each with a hand label of what it must count.
// It has no code of its own.
package realworld
