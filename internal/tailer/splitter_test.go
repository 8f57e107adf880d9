package tailer

import "bytes"
import "io"
import "slices"
import "strconv"
import "strings"
import "testing"

// chunkReader returns its data in pieces of at most n bytes, as reads of
// a file being written do.
type chunkReader struct {
	data []byte
	n    int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n, len(r.data))
	copy(p, r.data[:k])
	r.data = r.data[k:]
	return k, nil
}

// split runs a Splitter over data and describes every line: its text, or
// "!N" for an over-long line of N bytes; and the offset after each.
func split(data []byte, max, chunk int) (out []string, ends []int64) {
	s := NewSplitter(max, 0)
	r := &chunkReader{data: data, n: chunk}
	for {
		_, err := s.Fill(r)
		for {
			line, end, tooLong, ok := s.Next()
			if !ok {
				break
			}
			if tooLong > 0 {
				out = append(out, "!"+itoa(tooLong))
			} else {
				out = append(out, string(line))
			}
			ends = append(ends, end)
		}
		if err != nil {
			break
		}
	}
	if line, tooLong := s.Rest(); tooLong > 0 {
		out = append(out, "!"+itoa(tooLong))
		ends = append(ends, s.Consumed())
	} else if line != nil {
		out = append(out, string(line))
		ends = append(ends, s.Consumed())
	}
	return out, ends
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// reference splits data the obvious way, holding everything.
func reference(data []byte, max int) (out []string, ends []int64) {
	var off int64
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		line, n := data, len(data)
		if i >= 0 {
			line, n = data[:i], i+1
		}
		off += int64(n)
		if len(line) > max {
			out = append(out, "!"+itoa(int64(n)))
		} else {
			out = append(out, string(line))
		}
		ends = append(ends, off)
		data = data[n:]
	}
	return out, ends
}

func TestSplitter(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		max  int
		want []string
		ends []int64
	}{
		{"plain", "a\nbc\n", 4, []string{"a", "bc"}, []int64{2, 5}},
		{"empty lines", "\n\nx\n", 4, []string{"", "", "x"}, []int64{1, 2, 4}},
		{"at the bound", "abcd\n", 4, []string{"abcd"}, []int64{5}},
		{"one past", "abcde\nz\n", 4, []string{"!6", "z"}, []int64{6, 8}},
		{"unterminated", "a\nbc", 4, []string{"a", "bc"}, []int64{2, 4}},
		{"unterminated long", "a\nbcdefgh", 4, []string{"a", "!7"}, []int64{2, 9}},
		{"NUL hole", "a\n" + strings.Repeat("\x00", 1000) + "b\n", 16, []string{"a", "!1002"}, []int64{2, 1004}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range []int{1, 3, 1 << 20} {
				got, ends := split([]byte(tc.data), tc.max, chunk)
				if !slices.Equal(got, tc.want) || !slices.Equal(ends, tc.ends) {
					t.Errorf("chunk %d: got %q %v, want %q %v", chunk, got, ends, tc.want, tc.ends)
				}
			}
		})
	}
}

// TestSplitterBounded: an endless line never grows the buffer.
func TestSplitterBounded(t *testing.T) {
	s := NewSplitter(1024, 0)
	zero := bytes.NewReader(make([]byte, 64<<20))
	for {
		_, err := s.Fill(zero)
		if _, _, _, ok := s.Next(); ok {
			t.Fatal("a line in a file without newlines")
		}
		if err != nil {
			break
		}
	}
	if len(s.buf) != 1024+readRoom || cap(s.buf) != 1024+readRoom {
		t.Fatalf("buffer grew to %d", cap(s.buf))
	}
	if _, tooLong := s.Rest(); tooLong != 64<<20 {
		t.Fatalf("too long %d, want %d", tooLong, 64<<20)
	}
}

// FuzzSplitter: whatever the bytes, the bound and how reads cut them, the
// splitter agrees with the obvious split.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte("Nov 24 05:15:42 vm sm-mta[1]: x\nshort\n"), uint8(8), uint8(3))
	f.Add([]byte("\x00\x00\x00\n\n\xff\nabc"), uint8(1), uint8(1))
	f.Add([]byte(strings.Repeat("y", 300)+"\nz"), uint8(200), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, max, chunk uint8) {
		m, c := int(max)+1, int(chunk)+1
		got, gotEnds := split(data, m, c)
		want, wantEnds := reference(data, m)
		if !slices.Equal(got, want) || !slices.Equal(gotEnds, wantEnds) {
			t.Fatalf("max %d chunk %d:\n got %q %v\nwant %q %v", m, c, got, gotEnds, want, wantEnds)
		}
	})
}
