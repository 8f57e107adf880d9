// Package adopt checks mailtier's rules against cabal-infra's monitoring
// with Prometheus' own rule and PromQL parsers: no alert that doubles one
// of cabal-infra's, and no CloudWatch series read that no
// cloudwatch_exporter configuration produces.
package adopt
