package main

import "github.com/cabalmail/mailtier/collectors/registry"
import "github.com/cabalmail/mailtier/internal/pipeline"

// closedSets lists every value each label may take: the pipeline's own
// labels, then every collector's closed sets from the registry. The
// hostile-input test fails on a series whose label value is not here.
func closedSets() []map[string][]string {
	sets := []map[string][]string{{
		"collector": registry.All.Names(),
		"reason":    {pipeline.SkipUnparsed, pipeline.SkipUnclaimed, pipeline.SkipTooLong},
		"result":    {"matched", "unmatched"},
	}}
	for _, r := range registry.All {
		sets = append(sets, r.Labels)
	}
	return sets
}
