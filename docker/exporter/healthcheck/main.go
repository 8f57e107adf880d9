// Command healthcheck is the container health check of the exporter image.
//
// The image is distroless: it has no shell, curl or wget, so the ECS
// healthCheck runs this binary instead. It sends one GET to the URL given as
// its argument (default http://127.0.0.1:9469/, the exporter's landing page)
// and exits 0 if the answer is 200 OK, 1 otherwise.
//
//	healthcheck [-timeout 3s] [URL]
package main

import "context"
import "flag"
import "fmt"
import "io"
import "net/http"
import "os"
import "time"

const defaultURL = "http://127.0.0.1:9469/"

func main() {
	timeout := flag.Duration("timeout", 3*time.Second, "give up after this long")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [-timeout D] [URL]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	url := defaultURL
	switch flag.NArg() {
	case 0:
	case 1:
		url = flag.Arg(0)
	default:
		flag.Usage()
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := check(ctx, http.DefaultClient, url); err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

// check GETs url and returns nil if the response is 200 OK.
func check(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Drain a bounded amount so the connection closes cleanly.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
