// Command kalab-go-peer reproduces the classic experiments on HTTP keep-alive with Go's net/http,
// for kalab's interop tests (`kalab observe --serve -- kalab-go-peer -mode ...`).
//
// Modes:
//
//	leak        sequential requests; each body neither read nor closed (one connection each)
//	drain       sequential requests; each body read to the end and closed (one connection)
//	concurrent  -workers goroutines x -n requests each, bodies drained and closed, with the
//	            default transport (MaxIdleConnsPerHost 2) or -idle N
//
// -print copies every drained body to stdout (a program that floods its stdout).
//
// The target is -url, or http://127.0.0.1:$KALAB_PORT/. Standard library only.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	mode := flag.String("mode", "drain", "leak | drain | concurrent")
	url := flag.String("url", "", "target URL (default: http://127.0.0.1:$KALAB_PORT/)")
	n := flag.Int("n", 10, "requests (per worker)")
	workers := flag.Int("workers", 10, "goroutines (concurrent mode)")
	idle := flag.Int("idle", 0, "MaxIdleConnsPerHost (0: the default transport)")
	pause := flag.Duration("pause", 15*time.Millisecond, "pause between two requests of one worker")
	print := flag.Bool("print", false, "copy every drained body to stdout")
	flag.Parse()
	if *url == "" {
		port := os.Getenv("KALAB_PORT")
		if port == "" {
			fmt.Fprintln(os.Stderr, "kalab-go-peer: give -url or set KALAB_PORT")
			os.Exit(2)
		}
		*url = "http://127.0.0.1:" + port + "/"
	}

	client := http.DefaultClient
	if *idle > 0 {
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.MaxIdleConnsPerHost = *idle
		client = &http.Client{Transport: transport}
	}

	var ok, failed int64
	get := func(drain bool) {
		resp, err := client.Get(*url)
		if err != nil {
			atomic.AddInt64(&failed, 1)
			fmt.Fprintln(os.Stderr, "kalab-go-peer:", err)
			return
		}
		if drain {
			sink := io.Discard
			if *print {
				sink = os.Stdout
			}
			_, _ = io.Copy(sink, resp.Body)
			_ = resp.Body.Close()
		}
		// leak: the body is neither read nor closed, so the connection never returns to the
		// pool and the next request must dial a new one.
		atomic.AddInt64(&ok, 1)
	}

	switch *mode {
	case "leak", "drain":
		for i := 0; i < *n; i++ {
			if i > 0 {
				time.Sleep(*pause)
			}
			get(*mode == "drain")
		}
	case "concurrent":
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := 0; w < *workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < *n; i++ {
					if i > 0 {
						time.Sleep(*pause)
					}
					get(true)
				}
			}()
		}
		close(start)
		wg.Wait()
	default:
		fmt.Fprintf(os.Stderr, "kalab-go-peer: unknown mode %q\n", *mode)
		os.Exit(2)
	}
	fmt.Printf("mode=%s ok=%d failed=%d\n", *mode, ok, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
