package metrictest

import "bufio"
import "fmt"
import "os"
import "reflect"
import "strconv"
import "strings"
import "testing"

import "github.com/cabalmail/mailtier/internal/logline"
import "github.com/cabalmail/mailtier/internal/testenv"

// ParseCases checks a parser against its table of cases in file (a
// testdata file of the parser's package):
//
//	# a comment
//	> the input, to the end of the line
//	= what the parser must make of it, as Fields writes it
//
// Each "> " line is followed by its "= " line; blank lines separate
// groups. parse hands the input to the parser (after whatever the test
// does first, such as reading the line's envelope) and returns its event;
// kinds names the values of the event's Kind field. A file without cases,
// or a case without its "= " line, fails the test.
func ParseCases[K comparable](t *testing.T, file string, kinds map[K]string, parse func(t *testing.T, input string) any) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n, cases := 0, 0
	input, inputAt := "", 0
	for sc.Scan() {
		n++
		text := sc.Text()
		switch {
		case text == "" || strings.HasPrefix(text, "#"):
		case strings.HasPrefix(text, "> ") || text == ">":
			if inputAt != 0 {
				t.Fatalf("%s:%d: an input without its \"= \" line", file, inputAt)
			}
			input, inputAt = strings.TrimPrefix(text[1:], " "), n
		case strings.HasPrefix(text, "= "):
			if inputAt == 0 {
				t.Fatalf("%s:%d: an expectation without its \"> \" line", file, n)
			}
			if got, want := Fields(parse(t, input), kinds), text[2:]; got != want {
				t.Errorf("%s:%d: %q\n got %s\nwant %s", file, inputAt, input, got, want)
			}
			inputAt = 0
			cases++
		default:
			t.Fatalf("%s:%d: unknown line %q", file, n, text)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if inputAt != 0 {
		t.Fatalf("%s:%d: an input without its \"= \" line", file, inputAt)
	}
	if cases == 0 {
		t.Fatalf("%s: no cases", file)
	}
}

// Fields writes a parser's event, a struct, as one line: the name kinds
// gives its Kind field, then every other field that is not zero as
// Name=value in the order of declaration, strings quoted. Two events
// write the same line only when they are equal, so comparing lines is
// comparing events.
func Fields[K comparable](event any, kinds map[K]string) string {
	v := reflect.ValueOf(event)
	if v.Kind() != reflect.Struct {
		panic(fmt.Sprintf("metrictest.Fields: %T is not a struct", event))
	}
	var b strings.Builder
	for i := range v.NumField() {
		field, fv := v.Type().Field(i), v.Field(i)
		name := field.Name
		if !field.IsExported() {
			panic(fmt.Sprintf("metrictest.Fields: %T has an unexported field %s", event, name))
		}
		if name == "Kind" {
			k, ok := kinds[fv.Interface().(K)]
			if !ok {
				k = fmt.Sprintf("Kind(%v)", fv.Interface())
			}
			b.WriteString(k)
			continue
		}
		if fv.IsZero() {
			continue
		}
		b.WriteString(" " + name + "=")
		if fv.Kind() == reflect.String {
			b.WriteString(strconv.Quote(fv.String()))
		} else {
			fmt.Fprint(&b, fv.Interface())
		}
	}
	return b.String()
}

// AddRealWorldMessages adds the messages (after their envelope) of the
// lines of testdata/realworld/<pattern>.cases (testenv.RealWorldLines) to
// a fuzz target's seed corpus: real lines from other installations for a
// parser of messages.
func AddRealWorldMessages(f *testing.F, pattern string) {
	f.Helper()
	for _, line := range testenv.RealWorldLines(f, pattern) {
		if rec, ok := logline.Parse(line); ok {
			f.Add(rec.Message)
		}
	}
}
