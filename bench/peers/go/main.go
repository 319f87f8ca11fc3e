// gobench — the W1–W13 workloads of WORKLOADS.md on Go channels, written the way a Go user
// would (goroutines, GOMAXPROCS left at its default), with the same message counts, the same
// checks and the same JSON as kchan_bench (engine "go"):
//
//	gobench [--quick] [--json] [--reps N] [--only W1,W5,...]
//
// Mapping: bounded N = make(chan uint64, N), rendezvous = an unbuffered channel, close =
// close() by the last producer, blocking select = select (a closed and drained channel is
// set to nil, the Go idiom). Two workloads have no native equivalent and say so in "note":
//
//   - W3/W4 unlimited: a buffered channel of large capacity is NOT unbounded (it blocks when
//     full and allocates its whole buffer up front), so these use unboundedQueue below: a
//     sync.Mutex + growable ring + sync.Cond queue, the usual hand-written Go unbounded
//     queue (the other idiom, an in/out channel pair behind a goroutine, costs two channel
//     hops per message).
//   - W10 batches: Go has no batch API; the producer sends 64 values one at a time and the
//     consumer receives "up to 64" as one blocking receive followed by non-blocking
//     receives (select with default) until 64 or empty — what kchan's recv_many returns.
//
// W12 pipeline: stage 1 sends 1..n, stages 2 and 3 receive and forward, stage 4 receives;
// every stage counts. W13 worker pool: 1 dispatcher, 6 workers sending job+1 to 1 collector.
// Every run checks the count and the sum of what was received; a mismatch exits with 1.
// Besides CPU per message, each run reports the process's context switches (getrusage:
// ru_nvcsw + ru_nivcsw, all OS threads) per million messages: "csw_per_million" in JSON.
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	unlimited = -1
	maxReps   = 15
	batchN    = 64
)

type kind int

const (
	stream kind = iota
	pingpong
	select4
	batch
	pipeline // consumers = the stages after the first
	pool     // consumers = the workers; one more goroutine collects
)

type workload struct {
	id, name             string
	kind                 kind
	cap                  int
	producers, consumers int
	messages             uint64
}

var workloads = []workload{
	{"W1", "spsc_bounded", stream, 1024, 1, 1, 10000000},
	{"W2", "mpmc_bounded", stream, 1024, 4, 4, 10000000},
	{"W3", "spsc_unbounded", stream, unlimited, 1, 1, 10000000},
	{"W4", "mpsc_unbounded", stream, unlimited, 4, 1, 10000000},
	{"W5", "pingpong_rendezvous", pingpong, 0, 1, 1, 1000000},
	{"W6", "pingpong_cap1", pingpong, 1, 1, 1, 1000000},
	{"W7", "select4", select4, 1024, 4, 1, 4000000},
	{"W8", "handoff_cap1", stream, 1, 1, 1, 2000000},
	{"W9", "mpmc_oversub", stream, 64, 16, 16, 4000000},
	{"W10", "batch_spsc", batch, 1024, 1, 1, 10000000},
	{"W11", "small_ring_oversub", stream, 4, 4, 4, 4000000},
	{"W12", "pipeline4", pipeline, 16, 1, 3, 2000000},
	{"W13", "worker_pool", pool, 8, 1, 6, 2000000},
}

func note(w *workload) string {
	switch {
	case w.cap == unlimited:
		return "no unbounded chan: sync.Mutex + growable ring + sync.Cond queue"
	case w.kind == batch:
		return "no batch API: 64 single sends; recv = 1 blocking receive + non-blocking receives up to 64"
	}
	return ""
}

// ---- the unbounded queue for W3/W4 ---------------------------------------------------------

type unboundedQueue struct {
	mu     sync.Mutex
	cond   sync.Cond
	buf    []uint64 // ring, length a power of two
	head   int
	n      int
	closed bool
}

func newUnbounded() *unboundedQueue {
	q := &unboundedQueue{buf: make([]uint64, 1024)}
	q.cond.L = &q.mu
	return q
}

func (q *unboundedQueue) Send(v uint64) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if q.n == len(q.buf) {
		nb := make([]uint64, 2*len(q.buf))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = nb, 0
	}
	q.buf[(q.head+q.n)&(len(q.buf)-1)] = v
	q.n++
	q.mu.Unlock()
	q.cond.Signal()
	return true
}

// Recv blocks until a value is there (ok) or the queue is closed and drained (!ok).
func (q *unboundedQueue) Recv() (uint64, bool) {
	q.mu.Lock()
	for q.n == 0 && !q.closed {
		q.cond.Wait()
	}
	if q.n == 0 {
		q.mu.Unlock()
		return 0, false
	}
	v := q.buf[q.head]
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	q.mu.Unlock()
	return v, true
}

func (q *unboundedQueue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// ---- one run ---------------------------------------------------------------------------------

type got struct {
	count, sum uint64
	failed     bool
}

// usage returns the process's CPU seconds (user + system) and context switches (voluntary +
// involuntary) so far.
func usage() (float64, int64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := float64(ru.Utime.Sec) + float64(ru.Utime.Usec)*1e-6 + float64(ru.Stime.Sec) + float64(ru.Stime.Usec)*1e-6
	return cpu, int64(ru.Nvcsw) + int64(ru.Nivcsw)
}

// runWorkload returns (seconds, cpu seconds, context switches) and exits on a wrong count or sum.
func runWorkload(w *workload, messages uint64) (float64, float64, int64) {
	perProducer := messages / uint64(w.producers)
	nthreads := w.producers + w.consumers
	if w.kind == pool {
		nthreads++ // the collector
	}
	res := make([]got, nthreads) // [0, producers) producers, then consumers (then the collector)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(nthreads)
	done.Add(nthreads)
	left := int64(w.producers)
	spawn := func(i int, f func(g *got)) {
		go func() {
			var g got
			ready.Done()
			<-start
			f(&g)
			res[i] = g
			done.Done()
		}()
	}

	switch {
	case w.kind == stream && w.cap == unlimited:
		q := newUnbounded()
		for p := 0; p < w.producers; p++ {
			base := uint64(p) * perProducer
			spawn(p, func(g *got) {
				for i := uint64(1); i <= perProducer; i++ {
					if !q.Send(base + i) {
						g.failed = true
						break
					}
				}
				if atomic.AddInt64(&left, -1) == 0 {
					q.Close()
				}
			})
		}
		for c := 0; c < w.consumers; c++ {
			spawn(w.producers+c, func(g *got) {
				for {
					v, ok := q.Recv()
					if !ok {
						break
					}
					g.count++
					g.sum += v
				}
			})
		}
	case w.kind == stream || w.kind == batch:
		ch := make(chan uint64, w.cap)
		isBatch := w.kind == batch
		for p := 0; p < w.producers; p++ {
			base := uint64(p) * perProducer
			spawn(p, func(g *got) {
				if isBatch {
					var buf [batchN]uint64
					for i := uint64(1); i <= perProducer; {
						n := 0
						for n < batchN && i <= perProducer {
							buf[n] = base + i
							n++
							i++
						}
						for _, v := range buf[:n] {
							ch <- v
						}
					}
				} else {
					for i := uint64(1); i <= perProducer; i++ {
						ch <- base + i
					}
				}
				if atomic.AddInt64(&left, -1) == 0 {
					close(ch) // the last producer closes: consumers drain and stop
				}
			})
		}
		for c := 0; c < w.consumers; c++ {
			spawn(w.producers+c, func(g *got) {
				if isBatch {
					var buf [batchN]uint64
					for {
						v, ok := <-ch
						if !ok {
							break
						}
						buf[0] = v
						n := 1
					fill:
						for n < batchN {
							select {
							case v, ok := <-ch:
								if !ok {
									break fill
								}
								buf[n] = v
								n++
							default:
								break fill
							}
						}
						for _, v := range buf[:n] {
							g.count++
							g.sum += v
						}
					}
				} else {
					for v := range ch {
						g.count++
						g.sum += v
					}
				}
			})
		}
	case w.kind == pingpong:
		out, back := make(chan uint64, w.cap), make(chan uint64, w.cap)
		spawn(0, func(g *got) { // ping: sends 1..n, expects each back +1
			for i := uint64(1); i <= messages; i++ {
				out <- i
				v, ok := <-back
				if !ok || v != i+1 {
					g.failed = true
					break
				}
				g.count++
				g.sum += v
			}
			close(out)
		})
		spawn(1, func(g *got) {
			for v := range out {
				back <- v + 1
			}
		})
	case w.kind == pipeline:
		chans := make([]chan uint64, w.consumers)
		for k := range chans {
			chans[k] = make(chan uint64, w.cap)
		}
		spawn(0, func(g *got) {
			for i := uint64(1); i <= perProducer; i++ {
				chans[0] <- i
			}
			close(chans[0])
		})
		for k := 0; k < w.consumers; k++ {
			in := chans[k]
			var out chan uint64
			if k+1 < w.consumers {
				out = chans[k+1]
			}
			spawn(w.producers+k, func(g *got) {
				for v := range in {
					g.count++
					g.sum += v
					if out != nil {
						out <- v
					}
				}
				if out != nil {
					close(out) // upstream closed and drained: pass the close on
				}
			})
		}
	case w.kind == pool:
		jobs, results := make(chan uint64, w.cap), make(chan uint64, w.cap)
		spawn(0, func(g *got) {
			for i := uint64(1); i <= perProducer; i++ {
				jobs <- i
			}
			close(jobs)
		})
		workersLeft := int64(w.consumers)
		for k := 0; k < w.consumers; k++ {
			spawn(w.producers+k, func(g *got) {
				for v := range jobs {
					g.count++
					g.sum += v
					results <- v + 1
				}
				if atomic.AddInt64(&workersLeft, -1) == 0 {
					close(results) // the last worker to finish closes the results
				}
			})
		}
		spawn(nthreads-1, func(g *got) {
			for v := range results {
				g.count++
				g.sum += v
			}
		})
	case w.kind == select4:
		var chans [4]chan uint64
		for p := 0; p < w.producers; p++ {
			ch := make(chan uint64, w.cap)
			chans[p] = ch
			base := uint64(p) * perProducer
			spawn(p, func(g *got) {
				for i := uint64(1); i <= perProducer; i++ {
					ch <- base + i
				}
				close(ch)
			})
		}
		spawn(w.producers, func(g *got) {
			c0, c1, c2, c3 := chans[0], chans[1], chans[2], chans[3]
			live := 4
			for live > 0 {
				var v uint64
				var ok bool
				select {
				case v, ok = <-c0:
					if !ok {
						c0 = nil // closed and drained: stop selecting on it
					}
				case v, ok = <-c1:
					if !ok {
						c1 = nil
					}
				case v, ok = <-c2:
					if !ok {
						c2 = nil
					}
				case v, ok = <-c3:
					if !ok {
						c3 = nil
					}
				}
				if !ok {
					live--
					continue
				}
				g.count++
				g.sum += v
			}
		})
	}

	ready.Wait()
	c0, s0 := usage()
	t0 := time.Now()
	close(start)
	done.Wait()
	secs := time.Since(t0).Seconds()
	c1, s1 := usage()

	// Check: every message received once (count and sum), like kchan_bench: groups of
	// goroutines [from, to) whose totals must match (a pipeline: every stage on its own; a
	// pool: the workers together, and the collector, which gets each job + 1).
	type group struct {
		from, to   int
		count, sum uint64
	}
	n := perProducer * uint64(w.producers) // values 1..n, each once
	var groups []group
	switch w.kind {
	case pingpong:
		groups = append(groups, group{0, 1, messages, messages*(messages+1)/2 + messages})
	case pipeline:
		for k := 0; k < w.consumers; k++ {
			groups = append(groups, group{w.producers + k, w.producers + k + 1, n, n * (n + 1) / 2})
		}
	default:
		groups = append(groups, group{w.producers, w.producers + w.consumers, n, n * (n + 1) / 2})
		if w.kind == pool {
			groups = append(groups, group{nthreads - 1, nthreads, n, n*(n+1)/2 + n})
		}
	}
	failed := false
	for _, r := range res {
		failed = failed || r.failed
	}
	for _, gr := range groups {
		var g got
		for _, r := range res[gr.from:gr.to] {
			g.count += r.count
			g.sum += r.sum
		}
		if failed || g.count != gr.count || g.sum != gr.sum {
			why := ""
			if failed {
				why = " (an op failed)"
			}
			fmt.Fprintf(os.Stderr, "gobench: %s %s on go: goroutines %d..%d received %d values summing to %d, want %d and %d%s\n",
				w.id, w.name, gr.from, gr.to-1, g.count, g.sum, gr.count, gr.sum, why)
			os.Exit(1)
		}
	}
	return secs, c1 - c0, s1 - s0
}

func usageExit() {
	fmt.Fprintf(os.Stderr, "usage: %s [--quick] [--json] [--reps N] [--only W1,W2]\n", os.Args[0])
	os.Exit(2)
}

func main() {
	quick, json, reps, only := false, false, 5, ""
	args := os.Args[1:]
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "--quick":
			quick = true
		case args[i] == "--json":
			json = true
		case args[i] == "--reps" && i+1 < len(args):
			i++
			reps, _ = strconv.Atoi(args[i])
		case args[i] == "--only" && i+1 < len(args):
			i++
			only = args[i]
		default:
			usageExit()
		}
	}
	if reps < 1 || reps > maxReps {
		fmt.Fprintf(os.Stderr, "gobench: --reps 1..%d\n", maxReps)
		os.Exit(2)
	}
	if quick && reps == 5 {
		reps = 3
	}
	selected := make([]bool, len(workloads))
	msgs := make([]uint64, len(workloads))
	for k := range workloads {
		selected[k] = only == ""
		for _, id := range strings.Split(only, ",") {
			if id == workloads[k].id {
				selected[k] = true
			}
		}
		msgs[k] = workloads[k].messages
		if quick {
			msgs[k] /= 100
		}
	}
	secs := make([][]float64, len(workloads))
	cpus := make([][]float64, len(workloads))
	csws := make([][]float64, len(workloads))
	for k := range workloads {
		secs[k] = make([]float64, reps)
		cpus[k] = make([]float64, reps)
		csws[k] = make([]float64, reps)
	}
	for rep := 0; rep < reps; rep++ {
		for k := range workloads {
			if !selected[k] {
				continue
			}
			var cs int64
			secs[k][rep], cpus[k][rep], cs = runWorkload(&workloads[k], msgs[k])
			csws[k][rep] = float64(cs)
			if !json {
				fmt.Fprint(os.Stderr, ".")
			}
		}
	}
	if json {
		fmt.Printf("{\"reps\": %d, \"quick\": %t, \"results\": [\n", reps, quick)
	} else {
		fmt.Fprintln(os.Stderr)
		fmt.Printf("gobench: median of %d runs [min-max]; cpu = CPU seconds per million messages, cs = context switches per million messages\n", reps)
	}
	first := true
	for k := range workloads {
		if !selected[k] {
			continue
		}
		w := &workloads[k]
		rt := w.kind == pingpong
		m := float64(msgs[k])
		v := make([]float64, reps)
		c := make([]float64, reps)
		cs := make([]float64, reps)
		for i := 0; i < reps; i++ {
			cs[i] = csws[k][i] / (m / 1e6)
			if rt {
				v[i] = secs[k][i] * 1e9 / m
			} else {
				v[i] = m / secs[k][i] / 1e6
			}
			c[i] = cpus[k][i] / (m / 1e6)
		}
		sort.Float64s(v)
		sort.Float64s(c)
		sort.Float64s(cs)
		unit, short := "Mmsg_per_s", "Mmsg/s"
		if rt {
			unit, short = "ns_per_round_trip", "ns/rt"
		}
		if json {
			sep := ",\n"
			if first {
				sep = ""
			}
			n := ""
			if note(w) != "" {
				n = fmt.Sprintf(", \"note\": %q", note(w))
			}
			fmt.Printf("%s  {\"id\": \"%s\", \"workload\": \"%s\", \"engine\": \"go\", \"unit\": \"%s\", "+
				"\"median\": %.4f, \"min\": %.4f, \"max\": %.4f, \"cpu_s_per_million\": %.4f, "+
				"\"csw_per_million\": %.1f, \"messages\": %d%s}",
				sep, w.id, w.name, unit, v[reps/2], v[0], v[reps-1], c[reps/2], cs[reps/2], msgs[k], n)
			first = false
		} else {
			n := ""
			if note(w) != "" {
				n = "  (" + note(w) + ")"
			}
			fmt.Printf("%-24s %-8s %.3f [%.3f-%.3f] cpu %.2f cs %.0f%s\n", w.id+" "+w.name, short,
				v[reps/2], v[0], v[reps-1], c[reps/2], cs[reps/2], n)
		}
	}
	if json {
		fmt.Println("\n]}")
	}
}
