package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/lsqbridge/lsqbridge/cmd/internal/app"
	"github.com/lsqbridge/lsqbridge/cmd/internal/bench"
)

// `lsqbridge bench` measures this machine running lsqbridge
// (cmd/internal/bench, docs/performance.md). Point it at a scratch
// database: it replaces the demo integration and its own bench integrations.

const benchUsage = "usage: lsqbridge bench relay|ingest|e2e [flags]  (lsqbridge bench COMMAND --help)"

// benchKey seals the sandbox's demo secrets when LSQBRIDGE_MASTER_KEY is unset.
const benchKey = "6c73716272696467652d62656e63682d6b65792d6e6f742d7365637265742121"

func cmdBench(e *env, args []string) error {
	if len(args) == 0 {
		return errors.New(benchUsage)
	}
	sub := args[0]
	fs := e.flagSet("bench " + sub)
	e.cfg.BindDB(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	var run func(*bench.World) (bench.Report, error)
	switch sub {
	case "relay":
		o := bench.RelayOptions{}
		fs.IntVar(&o.N, "n", 20000, "actions")
		fs.IntVar(&o.Keys, "keys", 2000, "links the actions are spread over")
		fs.IntVar(&o.Workers, "workers", app.DefaultRelayWorkers, "deliveries in flight at once")
		fs.DurationVar(&o.SinkLatency, "sink-latency", 0, "how long the sink takes to answer each action")
		fs.BoolVar(&o.NoAnalyze, "no-analyze", false, "leave the new backlog without planner statistics (as before autovacuum's first pass)")
		paced := fs.Bool("paced", false, "instead: LeadSquared updates to the sandbox's LeadSquared fake, allowing --limit calls per 5 s")
		po := bench.PacedOptions{}
		fs.IntVar(&po.Limit, "limit", 25, "with --paced: LeadSquared's calls per 5 s (the fake's limit and the integration's pace)")
		fs.DurationVar(&po.Duration, "duration", 30*time.Second, "with --paced: how long to watch the relay")
		run = func(w *bench.World) (bench.Report, error) {
			if *paced {
				po.Workers = o.Workers
				return bench.Paced(e.ctx, w, po)
			}
			return bench.Relay(e.ctx, w, o)
		}
	case "ingest":
		o := bench.IngestOptions{}
		fs.IntVar(&o.Links, "links", 1000, "links (leads with tickets) the webhooks are about")
		fs.IntVar(&o.Webhooks, "n", 2000, "webhooks per concurrency level")
		levels := fs.String("concurrency", "1,4,16,32", "concurrent senders, one level after another")
		run = func(w *bench.World) (bench.Report, error) {
			var err error
			if o.Levels, err = intList(*levels); err != nil {
				return nil, fmt.Errorf("--concurrency: %w", err)
			}
			return bench.Ingest(e.ctx, w, o)
		}
	case "e2e":
		o := bench.E2EOptions{}
		fs.IntVar(&o.Links, "links", 1000, "links (leads with tickets) the changes are about")
		fs.Float64Var(&o.Rate, "rate", 100, "owner changes offered per second")
		fs.DurationVar(&o.Duration, "duration", 5*time.Second, "how long each rate is offered")
		fs.BoolVar(&o.FindMax, "find-max", false, "step the rate up; report the highest whose p99 stays within --p99")
		steps := fs.String("steps", "25,50,75,100,125,150,175,200,250,300,400,500,600,800,1000", "with --find-max: the rates tried, in order")
		fs.DurationVar(&o.P99, "p99", 50*time.Millisecond, "with --find-max: the p99 a rate must keep")
		run = func(w *bench.World) (bench.Report, error) {
			rates, err := intList(*steps)
			if err != nil {
				return nil, fmt.Errorf("--steps: %w", err)
			}
			for _, r := range rates {
				o.Steps = append(o.Steps, float64(r))
			}
			return bench.E2E(e.ctx, w, o)
		}
	default:
		return fmt.Errorf("unknown bench command %q\n%s", sub, benchUsage)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if e.cfg.MasterKey == "" {
		e.cfg.MasterKey = benchKey
	}
	if err := e.cfg.Validate(true, true); err != nil {
		return err
	}
	cfg := e.cfg
	cfg.DBMaxConns = max(cfg.DBMaxConns, 64) // the fastest ingest level's senders and the relay
	pool, err := app.OpenPool(e.ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := app.MigrateUp(e.ctx, pool); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	p := e.progress()
	defer p.Done()
	rep, err := run(&bench.World{Config: cfg, Pool: pool, Progress: p})
	if rep != nil {
		if perr := rep.Print(bench.Output{W: e.stdout, JSON: *asJSON}); perr != nil && err == nil {
			err = perr
		}
	}
	return err
}

// intList parses "1,4,16".
func intList(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
