// natsbench: JetStream acked publish with the Go client (nats.go), for Benchmarks/peers/nats.sh.
// Usage: natsbench URL COUNT sync|async SIZE
// Recreates the file-backed stream BENCH, publishes COUNT messages of SIZE bytes (async: at most 256 acks
// outstanding; sync: each ack awaited), checks the stream holds COUNT messages and prints messages per second.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	url := os.Args[1]
	n, _ := strconv.Atoi(os.Args[2])
	mode := os.Args[3]
	size, _ := strconv.Atoi(os.Args[4])
	nc, err := nats.Connect(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer nc.Close()
	js, err := nc.JetStream(nats.PublishAsyncMaxPending(256))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	_ = js.DeleteStream("BENCH")
	if _, err := js.AddStream(&nats.StreamConfig{Name: "BENCH", Subjects: []string{"bench.>"}, Storage: nats.FileStorage}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	payload := make([]byte, size)
	start := time.Now()
	if mode == "sync" {
		for i := 0; i < n; i++ {
			if _, err := js.Publish("bench.s", payload); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	} else {
		for i := 0; i < n; i++ {
			if _, err := js.PublishAsync("bench.a", payload); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(60 * time.Second):
			fmt.Fprintln(os.Stderr, "timeout")
			os.Exit(1)
		}
	}
	elapsed := time.Since(start).Seconds()
	info, err := js.StreamInfo("BENCH")
	if err != nil || info.State.Msgs != uint64(n) {
		fmt.Fprintln(os.Stderr, "count mismatch", err)
		os.Exit(1)
	}
	fmt.Printf("%.0f\n", float64(n)/elapsed)
}
