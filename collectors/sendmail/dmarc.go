package sendmail

// DMARC dispositions, as sendmail enacts them.
//
// OpenDMARC logs the DMARC result of a message, not what it asked the MTA
// to do with it (collectors/opendmarc). sendmail logs that: a message a
// milter rejects at the end of DATA is "QID: Milter: data, reject=CODE
// TEXT", and one it quarantines "QID: milter=NAME, quarantine=REASON"
// (milter.c, MilterLogLevel above 3). OpenDMARC's reply and reason are its
// own fixed texts (opendmarc.c): "rejected by DMARC policy for DOMAIN"
// with 550 5.7.1, and "quarantined by DMARC policy for DOMAIN". Those
// texts tell its actions from every other milter's. Debian's sendmail
// 8.17 with Debian's OpenDMARC writes exactly these lines
// (testdata/opendmarc-sendmail.log).

import "strings"

import "github.com/prometheus/client_golang/prometheus"

// The values of sendmail_dmarc_dispositions_total{disposition}.
const (
	DispositionReject     = "reject"
	DispositionQuarantine = "quarantine"
)

// Dispositions is the closed set of the disposition label.
var Dispositions = []string{DispositionReject, DispositionQuarantine}

const (
	dmarcReject     = "rejected by DMARC policy for "
	dmarcQuarantine = "quarantined by DMARC policy for "
)

func newDMARCDispositions() *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sendmail_dmarc_dispositions_total",
		Help: "Messages sendmail rejected or quarantined at OpenDMARC's request (its replies \"rejected by DMARC policy for\" and \"quarantined by DMARC policy for\"), by disposition.",
	}, []string{"disposition"})
	for _, d := range Dispositions {
		c.WithLabelValues(d)
	}
	return c
}

// isMilterQuarantine reports whether msg is sendmail's record of a
// milter's quarantine (milter.c: "milter=%s, quarantine=%s"). Only
// OpenDMARC's count, as a disposition; the others are a known shape that
// counts nothing, not an unmatched line.
// rest is the message after its queue id (afterQID).
func isMilterQuarantine(rest string) bool {
	i := strings.Index(rest, ", quarantine=")
	return strings.HasPrefix(rest, "milter=") && i > len("milter=") && !strings.Contains(rest[:i], " ")
}

// dmarcDisposition returns the disposition a line records, or "". rest
// is its message after its queue id (afterQID).
func dmarcDisposition(rest string) string {
	switch {
	case strings.HasPrefix(rest, "Milter: data, reject=5") && strings.Contains(rest, " "+dmarcReject):
		return DispositionReject
	case strings.HasPrefix(rest, "milter=") && strings.Contains(rest, ", quarantine="+dmarcQuarantine):
		return DispositionQuarantine
	}
	return ""
}
