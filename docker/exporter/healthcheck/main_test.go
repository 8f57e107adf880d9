package main

import "context"
import "net"
import "net/http"
import "net/http/httptest"
import "strings"
import "testing"
import "time"

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			_, _ = w.Write([]byte("<html>mailtier exporter</html>"))
		case "/slow":
			time.Sleep(500 * time.Millisecond)
		default:
			http.Error(w, "no", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	if err := check(context.Background(), srv.Client(), srv.URL+"/"); err != nil {
		t.Errorf("200 OK: %v", err)
	}
	err := check(context.Background(), srv.Client(), srv.URL+"/down")
	if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Errorf("503: err = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := check(ctx, srv.Client(), srv.URL+"/slow"); err == nil {
		t.Error("timeout: no error")
	}
}

func TestCheckNothingListening(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if err := check(context.Background(), http.DefaultClient, "http://"+addr+"/"); err == nil {
		t.Error("closed port: no error")
	}
}
