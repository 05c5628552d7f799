// Command churnctl is a churn-analytics toolkit: etl, features, train,
// evaluate, score and load, in one binary. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signalContext(context.Background())
	stopProfile := startProfile(os.Getenv("CHURNCTL_CPUPROFILE"))
	stopHeap := startHeapProfile(os.Getenv("CHURNCTL_MEMPROFILE"))
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stopHeap()
	stopProfile()
	stop()
	os.Exit(code)
}

// startProfile writes a CPU profile of the whole command to path (for
// performance work: CHURNCTL_CPUPROFILE=cpu.out churnctl etl ...; then
// go tool pprof). An empty path or an unwritable file profiles nothing.
func startProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// startHeapProfile writes, to path, a heap profile taken when the live heap
// was at its largest (for memory work: CHURNCTL_MEMPROFILE=heap.out churnctl
// etl ...; then go tool pprof -sample_index=inuse_space). It samples the
// heap every 50 ms and rewrites the profile whenever the heap grew by a
// tenth over the last one written. An empty path profiles nothing.
func startHeapProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	runtime.MemProfileRate = 64 << 10
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var written uint64
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > written+written/10 {
				if f, err := os.Create(path); err == nil {
					_ = pprof.Lookup("heap").WriteTo(f, 0)
					f.Close()
					written = v
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// signalError is the cancellation cause when SIGINT or SIGTERM arrives.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "interrupted by " + signalName(e.sig) }

// signalName is the conventional name of a signal ("SIGTERM"), not its
// description ("terminated").
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM"
	case os.Interrupt:
		return "SIGINT"
	}
	return sig.String()
}

// signalContext returns a context cancelled, with a signalError cause, on the
// first SIGINT or SIGTERM. A second signal kills the process the usual way.
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(signalError{sig: s})
			signal.Stop(ch) // the next signal takes the default action
		case <-done:
		}
	}()
	return ctx, func() {
		close(done)
		signal.Stop(ch)
		cancel(nil)
	}
}
