package fakes

import "encoding/json"
import "fmt"
import "math/big"
import "net/http"
import "net/http/httptest"
import "strings"
import "sync"
import "testing"
import "unicode"

// DynamoDB is a stand-in for the DynamoDB API on 127.0.0.1, for the one
// thing alert_sink needs from it that cannot run here: a table whose
// conditional writes are atomic. It speaks the service's JSON 1.0 protocol
// (X-Amz-Target DynamoDB_20120810.*) for PutItem, GetItem and DeleteItem,
// evaluates condition expressions made of comparisons, attribute_exists,
// attribute_not_exists, AND, OR, NOT and parentheses, and returns the old
// item with a failed condition when asked (ReturnValuesOnConditionCheckFailure
// ALL_OLD). Every request is applied under one lock, as DynamoDB applies
// each write to an item atomically. It has one table, named by NewDynamoDB,
// keyed by one string attribute.
type DynamoDB struct {
	*httptest.Server
	table, key string

	mu    sync.Mutex
	items map[string]map[string]attr
	calls map[string]int
	down  bool
}

// attr is a DynamoDB AttributeValue of type S or N, as on the wire.
type attr struct {
	S *string `json:"S,omitempty"`
	N *string `json:"N,omitempty"`
}

// NewDynamoDB starts a fake with one empty table.
func NewDynamoDB(t testing.TB, table, key string) *DynamoDB {
	d := &DynamoDB{table: table, key: key, items: map[string]map[string]attr{}, calls: map[string]int{}}
	d.Server = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.Close)
	return d
}

// SetDown makes every request fail with a 500 (true) or work again.
func (d *DynamoDB) SetDown(down bool) {
	d.mu.Lock()
	d.down = down
	d.mu.Unlock()
}

// Calls returns how many requests of an operation (PutItem, …) arrived.
func (d *DynamoDB) Calls(op string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[op]
}

// Items returns a copy of the table: key → attribute → value as a string.
func (d *DynamoDB) Items() map[string]map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]map[string]string{}
	for k, item := range d.items {
		m := map[string]string{}
		for name, v := range item {
			m[name] = v.String()
		}
		out[k] = m
	}
	return out
}

func (a attr) String() string {
	switch {
	case a.S != nil:
		return *a.S
	case a.N != nil:
		return *a.N
	}
	return ""
}

type request struct {
	TableName                           string
	Item                                map[string]attr
	Key                                 map[string]attr
	ConditionExpression                 string
	ExpressionAttributeNames            map[string]string
	ExpressionAttributeValues           map[string]attr
	ReturnValuesOnConditionCheckFailure string
}

func (d *DynamoDB) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	var req request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || !ok || !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		d.fail(w, http.StatusBadRequest, "SerializationException", "bad request", nil)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[op]++
	if d.down {
		d.fail(w, http.StatusInternalServerError, "InternalServerError", "injected failure", nil)
		return
	}
	if req.TableName != d.table {
		d.fail(w, http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found", nil)
		return
	}
	keyAttr := req.Key
	if op == "PutItem" {
		keyAttr = req.Item
	}
	k, ok := keyAttr[d.key]
	if !ok || k.S == nil {
		d.fail(w, http.StatusBadRequest, "ValidationException", "missing key "+d.key, nil)
		return
	}
	old, exists := d.items[*k.S]
	if req.ConditionExpression != "" {
		holds, err := evalCondition(req.ConditionExpression, old, req.ExpressionAttributeNames, req.ExpressionAttributeValues)
		if err != nil {
			d.fail(w, http.StatusBadRequest, "ValidationException", err.Error(), nil)
			return
		}
		if !holds {
			var item map[string]attr
			if req.ReturnValuesOnConditionCheckFailure == "ALL_OLD" && exists {
				item = old
			}
			d.fail(w, http.StatusBadRequest, "ConditionalCheckFailedException", "The conditional request failed", item)
			return
		}
	}
	out := map[string]any{}
	switch op {
	case "PutItem":
		d.items[*k.S] = req.Item
	case "DeleteItem":
		delete(d.items, *k.S)
	case "GetItem":
		if exists {
			out["Item"] = old
		}
	default:
		d.fail(w, http.StatusBadRequest, "UnknownOperationException", op, nil)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

func (d *DynamoDB) fail(w http.ResponseWriter, status int, typ, msg string, item map[string]attr) {
	body := map[string]any{"__type": "com.amazonaws.dynamodb.v20120810#" + typ, "message": msg}
	if item != nil {
		body["Item"] = item
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// evalCondition evaluates a condition expression against item (nil when
// there is none).
func evalCondition(expr string, item map[string]attr, names map[string]string, values map[string]attr) (bool, error) {
	p := &condParser{toks: tokenize(expr), item: item, names: names, values: values}
	v, err := p.or()
	if err == nil && p.pos != len(p.toks) {
		err = fmt.Errorf("unexpected %q in condition", p.toks[p.pos])
	}
	return v, err
}

func tokenize(s string) []string {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, string(c))
			i++
		case strings.ContainsRune("<>=", rune(c)):
			j := i + 1
			for j < len(s) && strings.ContainsRune("<>=", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || strings.ContainsRune("_#:.", rune(s[j]))) {
				j++
			}
			if j == i {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks
}

type condParser struct {
	toks   []string
	pos    int
	item   map[string]attr
	names  map[string]string
	values map[string]attr
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) next() string { t := p.peek(); p.pos++; return t }

func (p *condParser) expect(t string) error {
	if got := p.next(); got != t {
		return fmt.Errorf("want %q, got %q", t, got)
	}
	return nil
}

func (p *condParser) or() (bool, error) {
	v, err := p.and()
	for err == nil && strings.EqualFold(p.peek(), "OR") {
		p.next()
		var w bool
		w, err = p.and()
		v = v || w
	}
	return v, err
}

func (p *condParser) and() (bool, error) {
	v, err := p.unary()
	for err == nil && strings.EqualFold(p.peek(), "AND") {
		p.next()
		var w bool
		w, err = p.unary()
		v = v && w
	}
	return v, err
}

func (p *condParser) unary() (bool, error) {
	if strings.EqualFold(p.peek(), "NOT") {
		p.next()
		v, err := p.unary()
		return !v, err
	}
	return p.primary()
}

func (p *condParser) primary() (bool, error) {
	switch t := p.peek(); t {
	case "(":
		p.next()
		v, err := p.or()
		if err == nil {
			err = p.expect(")")
		}
		return v, err
	case "attribute_exists", "attribute_not_exists":
		p.next()
		if err := p.expect("("); err != nil {
			return false, err
		}
		_, present, err := p.operand()
		if err == nil {
			err = p.expect(")")
		}
		return present == (t == "attribute_exists"), err
	}
	left, lok, err := p.operand()
	if err != nil {
		return false, err
	}
	op := p.next()
	right, rok, err := p.operand()
	if err != nil {
		return false, err
	}
	if !lok || !rok {
		return false, nil // a missing attribute compares false
	}
	c, comparable := compare(left, right)
	if !comparable {
		return false, nil
	}
	switch op {
	case "=":
		return c == 0, nil
	case "<>":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, fmt.Errorf("unknown comparator %q", op)
}

// operand resolves a #name, :value or plain attribute name.
func (p *condParser) operand() (attr, bool, error) {
	t := p.next()
	switch {
	case strings.HasPrefix(t, ":"):
		v, ok := p.values[t]
		if !ok {
			return attr{}, false, fmt.Errorf("value %s not defined", t)
		}
		return v, true, nil
	case strings.HasPrefix(t, "#"):
		name, ok := p.names[t]
		if !ok {
			return attr{}, false, fmt.Errorf("name %s not defined", t)
		}
		t = name
	case t == "" || !unicode.IsLetter(rune(t[0])):
		return attr{}, false, fmt.Errorf("bad operand %q", t)
	}
	v, ok := p.item[t]
	return v, ok, nil
}

func compare(a, b attr) (int, bool) {
	switch {
	case a.S != nil && b.S != nil:
		return strings.Compare(*a.S, *b.S), true
	case a.N != nil && b.N != nil:
		x, okx := new(big.Float).SetString(*a.N)
		y, oky := new(big.Float).SetString(*b.N)
		if !okx || !oky {
			return 0, false
		}
		return x.Cmp(y), true
	}
	return 0, false
}
