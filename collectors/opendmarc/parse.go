package opendmarc

import "strings"

import "github.com/cabalmail/mailtier/collectors"

// Kind is what an OpenDMARC line reports.
type Kind uint8

// The kinds of line Parse tells apart.
const (
	Unknown           Kind = iota // a shape this parser does not know
	Ignored                       // a known shape that counts nothing
	Evaluated                     // the DMARC result of one message: Result
	SPF                           // OpenDMARC's own SPF check of one message: Origin, Result
	NotEvaluated                  // a message OpenDMARC did not evaluate: Reason
	Failed                        // an error while handling one message: Reason
	ConnectionIgnored             // "ignoring connection from HOST" (IgnoreHosts)
)

// Event is one parsed line. Its label values are this package's
// constants, never text from the line.
type Event struct {
	Kind Kind
	// QID is the MTA's queue id the line starts with ("" when it has
	// none), a substring of the line.
	QID    string
	Result string // Evaluated, SPF
	Origin string // SPF
	Reason string // NotEvaluated, Failed
}

// Label values. Anything else folds into Other.
const (
	Other = "other"

	// opendmarc_results_total{result}: the dmarc= word OpenDMARC writes
	// into Authentication-Results.
	ResultPass      = "pass"
	ResultFail      = "fail"
	ResultNone      = "none"
	ResultTempError = "temperror"
	ResultPermError = "permerror"

	// opendmarc_spf_results_total{result} adds OpenDMARC's SPF words.
	ResultTempFail = "tempfail"

	// opendmarc_spf_results_total{origin}
	OriginMailFrom = "mailfrom"
	OriginHelo     = "helo"

	// opendmarc_messages_not_evaluated_total{reason}
	ReasonIgnoredDomain      = "ignored_domain"      // "ignoring mail from DOMAIN" (IgnoreDomains)
	ReasonNoFrom             = "no_from"             // "RFC5322 requirement error: missing From field; accepting"
	ReasonHeaderRequirements = "header_requirements" // "RFC5322 requirement error: …" (RequiredHeaders; rejected)
	ReasonMultiFrom          = "multi_from"          // "multi-valued From field detected"
	ReasonUnparsableFrom     = "unparsable_from"     // "unable to parse From header field"

	// opendmarc_errors_total{reason}
	ReasonPolicyStore = "policy_store" // "opendmarc_policy_store_…() returned status N"
	ReasonHeaderAdd   = "header_add"   // "Authentication-Results header add failed"
	ReasonHistory     = "history"      // HistoryFile: fopen, flock, fwrite failed
	ReasonReport      = "report"       // failure reports: popen, pclose, buffer
	ReasonMilter      = "milter"       // smfi_setreply, smfi_addrcpt, smfi_quarantine failed
)

// The closed label sets, in exposition order.
var (
	Results            = results[:]
	SPFResults         = spfResults[:]
	Origins            = origins[:]
	NotEvaluatedReason = notEvaluatedReasons[:]
	ErrorReasons       = errorReasons[:]
)

// The closed sets as arrays, whose lengths size the collector's arrays of
// counters.
var (
	results             = [...]string{ResultPass, ResultFail, ResultNone, ResultTempError, ResultPermError, Other}
	spfResults          = [...]string{ResultPass, ResultFail, ResultNone, ResultTempFail, ResultPermError, Other}
	origins             = [...]string{OriginMailFrom, OriginHelo}
	notEvaluatedReasons = [...]string{ReasonIgnoredDomain, ReasonNoFrom, ReasonHeaderRequirements, ReasonMultiFrom, ReasonUnparsableFrom}
	errorReasons        = [...]string{ReasonPolicyStore, ReasonHeaderAdd, ReasonHistory, ReasonReport, ReasonMilter, Other}
)

// unknownJobID is what OpenDMARC logs instead of a queue id when the MTA
// does not pass the macro "i" (JOBIDUNKNOWN in opendmarc.h).
const unknownJobID = "(unknown-jobid)"

// perMessage are the starts of OpenDMARC 1.4's lines about one message,
// "JOBID: …" (opendmarc/opendmarc.c, mlfi_eom), by the event each
// reports. Only the start is matched: what follows holds domains and
// header text from the mail, which never become labels.
var perMessage = collectors.NewPrefixes(map[Event][]string{
	{Kind: SPF, Origin: OriginMailFrom}: {"SPF(mailfrom): "},
	{Kind: SPF, Origin: OriginHelo}:     {"SPF(helo): "},

	{Kind: NotEvaluated, Reason: ReasonIgnoredDomain}: {"ignoring mail from "},
	// The longer start wins over "RFC5322 requirement error: ".
	{Kind: NotEvaluated, Reason: ReasonNoFrom}:             {"RFC5322 requirement error: missing From field; accepting"},
	{Kind: NotEvaluated, Reason: ReasonHeaderRequirements}: {"RFC5322 requirement error: "},
	{Kind: NotEvaluated, Reason: ReasonMultiFrom}:          {"multi-valued From field detected"},
	{Kind: NotEvaluated, Reason: ReasonUnparsableFrom}:     {"unable to parse From header field"},

	{Kind: Failed, Reason: ReasonPolicyStore}: {"opendmarc_policy_store_"},
	{Kind: Failed, Reason: ReasonHeaderAdd}: {
		"Authentication-Results header add failed",
		"X-OpenDMARC-Version header add failed",
	},
	{Kind: Failed, Reason: ReasonReport}: {
		"unable to create buffer for failure report",
		"popen(): ",
		"pclose() ",
	},
	{Kind: Failed, Reason: ReasonMilter}: {
		"smfi_setreply() failed",
		"smfi_addrcpt() failed",
		"smfi_quarantine() failed",
	},
	{Kind: Failed, Reason: Other}: {
		"can't extract SPF address from Authentication-Results",
		"unable to parse validated SPF address",
	},

	{Kind: Ignored}: {
		// An Authentication-Results or ARC field OpenDMARC could not
		// read is skipped; the message is still evaluated.
		"ignoring invalid ",
		// ARC: a reject turned into an accept, or not; the result line
		// follows.
		"ARC pass, policy ",
	},
})

// lifecycle are the starts of lines of no queue id about OpenDMARC itself.
var lifecycle = collectors.PrefixSet(
	"OpenDMARC Filter v",
	"additional trusted authentication services: ",
	"implicit authentication service: ",
	"configuration reloaded from ",
	"ignoring reload signal",
	"WARNING: symbol 'i' not available",
	"terminated with signal ",
	"exited with status ",
)

// historyOps are the calls whose failure on the HistoryFile OpenDMARC
// logs after its path: "JOBID: PATH: fopen(): …", "…: flock(LOCK_EX): …".
var historyOps = [...]string{": fopen(): ", ": fwrite(): ", ": flock(LOCK_", ": lockf(F_"}

// containsAny reports whether any of needles, each starting with ':', is
// in s: one pass over the colons of s.
func containsAny(s string, needles []string) bool {
	for i := strings.IndexByte(s, ':'); i >= 0; {
		for _, n := range needles {
			if strings.HasPrefix(s[i:], n) {
				return true
			}
		}
		j := strings.IndexByte(s[i+1:], ':')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// Parse reads the message part of one OpenDMARC log line (after
// "opendmarc[pid]: "). It does not allocate.
func Parse(msg string) Event {
	// Lines of no queue id first: several start with a word that could
	// pass for one ("ignoring connection from", "additional …").
	if strings.HasPrefix(msg, "ignoring connection from ") {
		return Event{Kind: ConnectionIgnored}
	}
	if msg == "" {
		return Event{}
	}
	if _, _, ok := lifecycle.Match(msg); ok {
		return Event{Kind: Ignored}
	}
	qid, rest, sep := splitQID(msg)
	if qid == "" {
		return Event{}
	}
	if sep == ' ' {
		// "JOBID ignoring Authentication-Results at N from HOST": a
		// field from a server not in TrustedAuthservIDs (LOG_DEBUG),
		// the only line OpenDMARC writes with no colon after the id.
		if strings.HasPrefix(rest, "ignoring Authentication-Results at ") {
			return Event{Kind: Ignored, QID: qid}
		}
		return Event{}
	}
	if rest == "" {
		return Event{QID: qid}
	}
	if start, known, ok := perMessage.Match(rest); ok {
		ev := *known
		ev.QID = qid
		if ev.Kind == SPF {
			ev.Result = spfResult(lastWord(rest[len(start):]))
		}
		return ev
	}
	// "JOBID: opendmarc_policy_query_dmarc(DOMAIN) returned status N":
	// the DMARC record could not be read. Status 1 and 2 tempfail the
	// message; 3 to 6 (a bad v=, a bad value, no p=, no domain) accept it
	// with dmarc=permerror. The domain is read past, from the end.
	if strings.HasPrefix(rest, "opendmarc_policy_query_dmarc(") {
		i := strings.LastIndex(rest, ") returned status ")
		if i < 0 {
			return Event{QID: qid}
		}
		switch rest[i+len(") returned status "):] {
		case "1", "2":
			return Event{Kind: Evaluated, QID: qid, Result: ResultTempError}
		case "3", "4", "5", "6":
			return Event{Kind: Evaluated, QID: qid, Result: ResultPermError}
		}
		return Event{Kind: Evaluated, QID: qid, Result: Other}
	}
	// HistoryFile errors: "JOBID: PATH: fopen(): …", "…: flock(LOCK_EX): …".
	if containsAny(rest, historyOps[:]) {
		return Event{Kind: Failed, QID: qid, Reason: ReasonHistory}
	}
	// "JOBID: DOMAIN RESULT", the line of every evaluated message. The
	// domain is the From: field's, text from the mail: the line is
	// recognised by its last word alone, and only a domain of no space
	// (empty when the From: field had no domain).
	if sp := strings.LastIndexByte(rest, ' '); sp >= 0 && strings.IndexByte(rest[:sp], ' ') < 0 {
		switch r := rest[sp+1:]; r {
		case ResultPass, ResultFail, ResultNone, ResultTempError:
			return Event{Kind: Evaluated, QID: qid, Result: r}
		}
	}
	return Event{QID: qid}
}

// spfResult maps OpenDMARC's SPF word (opendmarc.c's pass_fail) to a
// label value.
func spfResult(w string) string {
	switch w {
	case ResultPass, ResultFail, ResultNone, ResultTempFail, ResultPermError:
		return w
	}
	return Other
}

func lastWord(s string) string {
	return s[strings.LastIndexByte(s, ' ')+1:]
}

// splitQID splits "QID: rest" (or "QID rest", sep ' '). OpenDMARC starts a
// line about a message with the MTA's queue id, the macro "i": any run of
// 8 to 20 letters and digits (sendmail's 14, Postfix's hex or long ids),
// or "(unknown-jobid)" when the MTA passed none.
func splitQID(msg string) (qid, rest string, sep byte) {
	if strings.HasPrefix(msg, unknownJobID+": ") {
		return unknownJobID, msg[len(unknownJobID)+2:], ':'
	}
	// The run stops at 21 bytes: longer is no queue id.
	i := collectors.AlnumPrefix(msg, 21)
	if i < 8 || i > 20 || i+1 >= len(msg) {
		return "", msg, 0
	}
	if msg[i] == ':' && msg[i+1] == ' ' {
		return msg[:i], msg[i+2:], ':'
	}
	if msg[i] == ' ' {
		return msg[:i], msg[i+1:], ' '
	}
	return "", msg, 0
}
