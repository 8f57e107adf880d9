package collectors

// Index is the position of v in the closed set set, or of its last member
// (Other, where the set has one) for a value outside it. Collectors resolve
// their metrics' children once, into arrays in the order of their closed
// sets, and index them per line with it: a parser returns only its own
// package's constants, so a value outside the set is a bug that still
// lands in a valid series.
func Index(set []string, v string) int {
	for i, s := range set {
		if s == v {
			return i
		}
	}
	return len(set) - 1
}
