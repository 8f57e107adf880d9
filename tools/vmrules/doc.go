// Package vmrules proves mailtier's Prometheus rules (rules/*.yml) on
// vmalert and VictoriaMetrics, the alternative backend of
// docs/operations.md. Its tests load every rule file in vmalert, and replay
// every scenario of the promtool unit tests (rules/tests/*_test.yml) as data
// in a VictoriaMetrics on loopback, with vmalert evaluating the rules over
// it: each alert must fire and stay silent exactly where promtool says,
// with the same labels and annotations.
//
// The package holds tests only; it lives in the tools module because it
// reads promtool's series notation with Prometheus' own parser and writes
// samples with Prometheus' remote-write protocol, both from
// github.com/prometheus/prometheus.
package vmrules
