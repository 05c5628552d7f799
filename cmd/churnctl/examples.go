package main

import (
	"strings"

	"github.com/spf13/cobra"
)

// examples are the --help examples of the commands that do not set their
// own, by command path. Every one is a command that works as written on a
// lake built from the bundled sample (see README.md).
var examples = map[string]string{
	"etl": `  # bronze → silver → gold for every day in the inputs
  churnctl etl --lake /data/lake testdata/sample/

  # a daily cron run: one day, re-processing two earlier days for late events
  churnctl etl --lake /data/lake --ds 2018-11-05 --lookback 2 'logs/*.json.gz'`,
	"etl silver": `  churnctl etl silver --lake /data/lake
  churnctl etl silver --lake /data/lake --from 2018-10-01 --to 2018-10-07`,
	"etl gold": `  churnctl etl gold --lake /data/lake
  churnctl etl gold --lake /data/lake --ds 2018-11-05`,
	"features": `  # one snapshot as of 2018-11-01, churn label from the 30 days after it
  churnctl features --lake /data/lake --as-of 2018-11-01 --horizon 30d

  # weekly snapshots, exported as CSV for pandas/sklearn
  churnctl features --lake /data/lake --every 7d --from 2018-10-15 --to 2018-10-29 --format csv --out /tmp/features/{as_of}/features.csv`,
	"train": `  churnctl train --features /data/lake/features/as_of=2018-10-24 --features /data/lake/features/as_of=2018-10-31 \
      --registry /data/lake/models --name churn --seed 42 --trees 200 --class-weight balanced --holdout-users 0.2

  # any numeric table: a CSV with its own label and id columns
  churnctl train --features table.csv --label churned --id customer --registry models --name mine --folds 5`,
	"evaluate": `  # the users train --holdout-users 0.2 left out (evaluate refuses training rows)
  churnctl evaluate --registry /data/lake/models --model churn@challenger \
      --features /data/lake/features/as_of=2018-10-31 --holdout-users 0.2 --report /tmp/report`,
	"score": `  churnctl score --registry /data/lake/models --model churn@champion \
      --features /data/lake/features/as_of=2018-11-30 --lake /data/lake --as-of 2018-11-30`,
	"models": `  churnctl models list --registry /data/lake/models
  churnctl models show churn@champion --registry /data/lake/models`,
	"models list": `  churnctl models list --registry /data/lake/models`,
	"models show": `  churnctl models show churn@champion --registry /data/lake/models`,
	"models promote": `  # make the challenger champion only if its churn F1 beats the champion's by 0.01 on the same data
  churnctl models promote churn@challenger --registry /data/lake/models \
      --features /data/lake/features/as_of=2018-10-31 --holdout-users 0.2 --min-gain 0.01`,
	"load": `  churnctl load --dsn "host=/var/run/postgresql dbname=churn" --lake /data/lake
  CHURNCTL_DSN=postgres://churn@db/churn churnctl load --lake /data/lake --ds 2018-11-05 --tables gold,predictions`,
	"db": `  churnctl db migrate --dsn "host=/var/run/postgresql dbname=churn"
  churnctl db status --dsn "host=/var/run/postgresql dbname=churn"`,
	"db migrate": `  churnctl db migrate --dsn "host=/var/run/postgresql dbname=churn"`,
	"db status":  `  PGHOST=/var/run/postgresql PGDATABASE=churn churnctl db status`,
	"version":    `  churnctl version`,
	"config":     `  churnctl config show --config churnctl.example.yaml`,
}

// addExamples fills in the examples of commands that have none.
func addExamples(c *cobra.Command) {
	path := strings.TrimPrefix(c.CommandPath(), c.Root().Name()+" ")
	if ex, ok := examples[path]; ok && c.Example == "" {
		c.Example = ex
	}
	for _, sub := range c.Commands() {
		addExamples(sub)
	}
}
