// Command latency is the Go peer of issue 16's NATS latency goal (goal 3),
// run by bench/_go_latency.ts: JetStream PublishAsync paced at -rate
// messages/s (absolute due times, one message each), -size byte payloads
// carrying the publish time, a Msg-Id on every message (as serve sets), into
// a new stream (file storage, R1) on 3 subjects; a durable pull consumer
// (AckAll, deliver new, max_ack_pending 1000, as live's) on a second
// connection of the same process measures publish -> Consume callback
// latency on Go's monotonic clock. Prints one JSON line: the counts and the
// p50/p99/p99.9/max latency in ns. Deletes its stream on exit.
//
//	latency -url nats://127.0.0.1:4222 -stream S -msgs 50000 -rate 10000
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// result is the JSON line printed on success.
type result struct {
	Received int     `json:"received"`
	Sent     int     `json:"sent"`
	Offered  float64 `json:"offered"`
	P50      int64   `json:"p50"`
	P99      int64   `json:"p99"`
	P999     int64   `json:"p999"`
	Max      int64   `json:"max"`
	Min      int64   `json:"min"`
}

// prSetTimerSlack is prctl's PR_SET_TIMERSLACK.
const prSetTimerSlack = 29

func main() {
	url := flag.String("url", nats.DefaultURL, "nats-server URL")
	stream := flag.String("stream", "PEERS_GO_LAT", "stream to create (and delete at the end)")
	msgs := flag.Int("msgs", 50_000, "messages to publish")
	rate := flag.Float64("rate", 10_000, "messages per second")
	size := flag.Int("size", 48, "payload bytes (at least 8: the publish time)")
	dedup := flag.Bool("dedup", true, "set a Msg-Id on every message")
	flag.Parse()
	if *msgs < 1 || *rate <= 0 || *size < 8 {
		fmt.Fprintf(os.Stderr, "latency: invalid -msgs %d, -rate %g or -size %d\n", *msgs, *rate, *size)
		os.Exit(2)
	}
	res, err := run(*url, *stream, *msgs, *rate, *size, *dedup)
	if err != nil {
		fmt.Fprintf(os.Stderr, "latency: %v\n", err)
		os.Exit(1)
	}
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
}

func run(url, stream string, msgs int, rate float64, size int, dedup bool) (*result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(float64(msgs)/rate*float64(time.Second))+60*time.Second)
	defer cancel()
	pubConn, err := nats.Connect(url, nats.Name("peers-go-latency-pub"))
	if err != nil {
		return nil, err
	}
	defer pubConn.Close()
	subConn, err := nats.Connect(url, nats.Name("peers-go-latency-sub"))
	if err != nil {
		return nil, err
	}
	defer subConn.Close()
	pubJs, err := jetstream.New(pubConn, jetstream.WithPublishAsyncMaxPending(256))
	if err != nil {
		return nil, err
	}
	subJs, err := jetstream.New(subConn)
	if err != nil {
		return nil, err
	}
	prefix := "peersgo." + stream
	if _, err := pubJs.CreateStream(ctx, jetstream.StreamConfig{
		Name:      stream,
		Subjects:  []string{prefix + ".>"},
		Storage:   jetstream.FileStorage,
		Replicas:  1,
		Retention: jetstream.LimitsPolicy,
	}); err != nil {
		return nil, err
	}
	defer pubJs.DeleteStream(context.Background(), stream)
	cons, err := subJs.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       "peers-go-latency",
		AckPolicy:     jetstream.AckAllPolicy,
		DeliverPolicy: jetstream.DeliverNewPolicy,
		MaxAckPending: 1000,
		AckWait:       30 * time.Second,
	})
	if err != nil {
		return nil, err
	}

	base := time.Now()
	latencies := make([]int64, 0, msgs)
	var mu sync.Mutex
	done := make(chan struct{})
	consumed, err := cons.Consume(func(msg jetstream.Msg) {
		latency := int64(time.Since(base)) - int64(binary.LittleEndian.Uint64(msg.Data()))
		mu.Lock()
		latencies = append(latencies, latency)
		n := len(latencies)
		mu.Unlock()
		msg.Ack()
		if n == msgs {
			close(done)
		}
	})
	if err != nil {
		return nil, err
	}
	defer consumed.Stop()

	sent, elapsed, err := publish(pubJs, prefix, base, msgs, rate, size, dedup)
	if err != nil {
		return nil, err
	}
	select {
	case <-pubJs.PublishAsyncComplete():
	case <-ctx.Done():
		return nil, fmt.Errorf("%d publishes not acknowledged", pubJs.PublishAsyncPending())
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second): // lost messages: report what arrived
	}
	mu.Lock()
	defer mu.Unlock()
	if len(latencies) == 0 {
		return nil, fmt.Errorf("no message received of %d sent", sent)
	}
	slices.Sort(latencies)
	at := func(q float64) int64 { return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))] }
	return &result{
		Received: len(latencies),
		Sent:     sent,
		Offered:  float64(sent) / elapsed.Seconds(),
		P50:      at(0.50),
		P99:      at(0.99),
		P999:     at(0.999),
		Max:      latencies[len(latencies)-1],
		Min:      latencies[0],
	}, nil
}

// publish sends msgs messages round-robin on 3 subjects, message i due at
// i/rate seconds after the first, each stamped with its send time since base.
func publish(js jetstream.JetStream, prefix string, base time.Time, msgs int, rate float64, size int, dedup bool) (int, time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Sleeps end when due, not up to 50 µs later (the default timer slack).
	syscall.Syscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
	subjects := []string{prefix + ".BTCUSDT", prefix + ".ETHUSDT", prefix + ".SOLUSDT"}
	period := float64(time.Second) / rate
	start := time.Now()
	id := make([]byte, 0, 32)
	for i := range msgs {
		due := start.Add(time.Duration(float64(i) * period))
		if wait := time.Until(due); wait > 0 {
			ts := syscall.NsecToTimespec(int64(wait))
			for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
			}
		}
		payload := make([]byte, size)
		binary.LittleEndian.PutUint64(payload, uint64(time.Since(base)))
		var opts []jetstream.PublishOpt
		if dedup {
			id = strconv.AppendInt(append(id[:0], "peers-"...), int64(i), 10)
			opts = append(opts, jetstream.WithMsgID(string(id)))
		}
		if _, err := js.PublishAsync(subjects[i%len(subjects)], payload, opts...); err != nil {
			return i, time.Since(start), err
		}
	}
	return msgs, time.Since(start), nil
}
