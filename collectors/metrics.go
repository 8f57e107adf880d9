package collectors

import "github.com/prometheus/client_golang/prometheus"

// The collectors declare their own metrics through these constructors:
// one call names a metric, its help and its labels, which is all that
// varies between them (docs/metrics.md documents each).

// Counter returns a counter without labels.
func Counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

// CounterVec returns a counter with labels.
func CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// HistogramVec returns a histogram with buckets and labels.
func HistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
}

// Resolve fills children with vec's child for each of values, in their
// order: a collector resolves its series once, when it is built, and
// indexes them by a closed set's position per line (LogCollector).
func Resolve(children []prometheus.Counter, vec *prometheus.CounterVec, values []string) {
	for i, v := range values {
		children[i] = vec.WithLabelValues(v)
	}
}
