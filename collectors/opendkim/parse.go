package opendkim

import "strings"

import "github.com/cabalmail/mailtier/collectors"

// Kind is what an OpenDKIM line reports.
type Kind uint8

// The kinds of line Parse tells apart.
const (
	Unknown    Kind = iota // a shape this parser does not know
	Ignored                // a known shape that counts nothing
	Signed                 // "QID: DKIM-Signature field added (s=…, d=…)" (SyslogSuccess)
	SignFailed             // a message OpenDKIM meant to sign and could not: Reason
	NotSigned              // a message OpenDKIM decided not to sign: Reason
	Verified               // the outcome of verifying a message: Result
)

// Event is one parsed line. Its label values are this package's
// constants, never text from the line.
type Event struct {
	Kind Kind
	// QID is the MTA's queue id the line starts with ("" when it has
	// none), a substring of the line.
	QID string
	// Reason is set for SignFailed and NotSigned.
	Reason string
	// Result is set for Verified.
	Result string
}

// Label values. Anything else OpenDKIM reports folds into Other.
const (
	Other = "other"

	// opendkim_sign_failures_total{reason}
	ReasonKeyLoad = "key_load" // "error loading key '…'": the key file is missing, unreadable or not secure
	ReasonTable   = "table"    // "signing table references unknown key '…'", "error reading signing table"

	// opendkim_messages_not_signed_total{reason}
	ReasonNoSigningTableMatch = "no_signing_table_match" // "no signing table match for '…'" (LogWhy)

	// opendkim_verifications_total{result}
	ResultPass        = "pass"
	ResultFail        = "fail"
	ResultNoSignature = "no_signature"
)

// The closed label sets, in exposition order.
var (
	SignFailureReasons = signFailureReasons[:]
	NotSignedReasons   = notSignedReasons[:]
	Results            = results[:]
)

// The closed sets as arrays, whose lengths size the collector's arrays of
// counters.
var (
	signFailureReasons = [...]string{ReasonKeyLoad, ReasonTable, Other}
	notSignedReasons   = [...]string{ReasonNoSigningTableMatch, Other}
	results            = [...]string{ResultPass, ResultFail, ResultNoSignature, Other}
)

// unknownJobID is what OpenDKIM logs instead of a queue id when the MTA
// does not pass the macro "i".
const unknownJobID = "(unknown-jobid)"

// perMessage are the starts of OpenDKIM 2.11's lines about one message,
// each "QID: …" (opendkim/opendkim.c), by the event each reports. Only
// the start is matched: what follows holds addresses, key names and
// selectors, which are text from the mail and never become labels.
var perMessage = collectors.NewPrefixes(map[Event][]string{
	{Kind: Signed}: {"DKIM-Signature field added ("},

	{Kind: SignFailed, Reason: ReasonTable}: {
		"signing table references unknown key '",
		"error reading signing table",
	},
	// The key named by the signing table could not be used. The reason
	// comes first on a line of no queue id ("can't load key from PATH:
	// …", "KEYNAME: key data is not secure: …"), which is not counted.
	{Kind: SignFailed, Reason: ReasonKeyLoad}: {"error loading key '"},
	{Kind: SignFailed, Reason: Other}: {
		"failed to add default signing request",
		"dkim_getsighdr() failed",
		"DKIM-Signature header add failed",
		// libopendkim failed to finish the signatures: dkimf_libstatus's
		// "QID: dkim_eom(): <status>: <error>", which opendkim.c logs
		// only where it completes signing requests. A key whose data
		// cannot be parsed ("resource unavailable: d2i_PrivateKey_bio()
		// failed") is a key_load failure (see signFailureReason).
		"dkim_eom(): ",
	},

	// Mail from a client OpenDKIM trusts, in a domain it has no key for.
	{Kind: NotSigned, Reason: ReasonNoSigningTableMatch}: {"no signing table match for '"},
	{Kind: NotSigned, Reason: Other}: {
		"no signing domain match for '",
		"no signing subdomain match for '",
		"skipping signing of mail to '",
		"domain '", // "domain 'X' exempted, accepting" (checked in Parse)
		"can't determine message sender; accepting",
	},

	{Kind: Verified, Result: ResultPass}:        {"DKIM verification successful"},
	{Kind: Verified, Result: ResultFail}:        {"bad signature data", "key revoked ("},
	{Kind: Verified, Result: ResultNoSignature}: {"no signature data"},
	// The key is not in DNS, or DNS failed: no verdict on the signature.
	{Kind: Verified, Result: Other}: {"key retrieval failed"},

	{Kind: Ignored}: {
		// LogWhy's account of the sign-or-verify decision, logged for
		// every message from a client OpenDKIM does not sign for (all
		// inbound mail): not a failure to sign.
		"not authenticated",
		"no MTA name match (",
		"no macros match",
		"external host ",
		// "s=… d=… a=… SSL <errors>": OpenSSL's error queue after
		// verifying, logged next to the outcome (empty after a pass).
		"s=",
		"SSL ",
		"ignoring ",
	},
})

// Parse reads the message part of one OpenDKIM log line (after
// "opendkim[pid]: "). It does not allocate.
func Parse(msg string) Event {
	qid, rest := splitQID(msg)
	if qid == "" {
		switch {
		case strings.HasPrefix(msg, "OpenDKIM Filter v"),
			strings.HasPrefix(msg, "can't load key from "),
			strings.HasPrefix(msg, "key '"),
			strings.HasPrefix(msg, "WARNING: symbol 'i' not available"),
			strings.Contains(msg, "._domainkey.") && strings.Contains(msg, ": key data is not secure: "):
			return Event{Kind: Ignored}
		}
		return Event{}
	}
	if strings.HasPrefix(rest, "key data is not secure: ") {
		// "KEYNAME: key data is not secure: …" whose KeyTable key name
		// looks like a queue id ("2139210713"): the reason of the
		// "error loading key" line that follows, not counted again.
		return Event{Kind: Ignored}
	}
	if rest == "" {
		return Event{QID: qid}
	}
	if start, known, ok := perMessage.Match(rest); ok {
		ev := *known
		ev.QID = qid
		switch start {
		case "domain '":
			if !strings.HasSuffix(rest, "' exempted, accepting") {
				return Event{QID: qid}
			}
		case "dkim_eom(): ":
			ev.Reason = signFailureReason(rest[len(start):])
		}
		return ev
	}
	// "HOST [IP] not internal" (LogWhy): the client is not in
	// InternalHosts.
	if strings.HasSuffix(rest, "] not internal") {
		return Event{Kind: Ignored, QID: qid}
	}
	return Event{QID: qid}
}

// signFailureReason classifies libopendkim's error at the end of signing.
// The errors of loading the private key name OpenSSL's key functions
// (libopendkim's dkim_privkey_load: "d2i_PrivateKey_bio() failed",
// "PEM_read_bio_PrivateKey() failed", "EVP_PKEY_get1_RSA() failed") or
// say so ("private key load failure").
func signFailureReason(err string) string {
	if strings.Contains(err, "PrivateKey") || strings.Contains(err, "EVP_PKEY_get1_RSA()") ||
		strings.Contains(err, "private key load failure") {
		return ReasonKeyLoad
	}
	return Other
}

// splitQID splits "QID: rest". OpenDKIM starts a line about a message with
// the MTA's queue id (sendmail's 14 letters and digits, Postfix's hex or
// long ids): any run of 8 to 20 letters and digits before ": ", or
// "(unknown-jobid)" when the MTA passed none.
func splitQID(msg string) (qid, rest string) {
	if strings.HasPrefix(msg, unknownJobID+": ") {
		return unknownJobID, msg[len(unknownJobID)+2:]
	}
	// The run stops at 21 bytes: longer is no queue id.
	i := collectors.AlnumPrefix(msg, 21)
	if i >= 8 && i <= 20 && i+1 < len(msg) && msg[i] == ':' && msg[i+1] == ' ' {
		return msg[:i], msg[i+2:]
	}
	return "", msg
}
