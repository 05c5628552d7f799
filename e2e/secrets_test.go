package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.yaml.in/yaml/v3"

	"github.com/churnctl/churnctl/internal/pgtest"
)

// leakMark is in every token of every planted password: any byte sequence
// containing it, in any file or stream churnctl wrote, is a leak (escaping
// for JSON, URLs or shell quoting leaves it as it is).
const leakMark = "PWLEAK"

// dsnForm writes a connection string for the password role in one of the
// forms users give: keyword/value (plain, quoted, backslash-escaped) or URL
// (userinfo, ?password=). Each form's password has the characters that
// form must quote or escape.
type dsnForm struct {
	name     string
	password func(id string) string
	dsn      func(sock string, port uint16, db, pw string) string
}

var dsnForms = []dsnForm{
	{"kv plain", func(id string) string { return leakMark + id + "-plain" },
		func(sock string, port uint16, db, pw string) string {
			return fmt.Sprintf("host=%s port=%d dbname=%s user=%s sslmode=disable password=%s", sock, port, db, pgtest.PasswordRole, pw)
		}},
	{"kv quoted", func(id string) string { return leakMark + id + "-q1 " + leakMark + id + "'q2 " + leakMark + id + `\q3` },
		func(sock string, port uint16, db, pw string) string {
			q := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pw)
			return fmt.Sprintf("host=%s password='%s' port=%d dbname=%s user=%s sslmode=disable", sock, q, port, db, pgtest.PasswordRole)
		}},
	{"kv escaped", func(id string) string { return leakMark + id + "-e1 " + leakMark + id + "-e2" },
		func(sock string, port uint16, db, pw string) string {
			e := strings.NewReplacer(`\`, `\\`, " ", `\ `, "'", `\'`).Replace(pw)
			return fmt.Sprintf("host=%s port=%d password=%s dbname=%s user=%s sslmode=disable", sock, port, e, db, pgtest.PasswordRole)
		}},
	{"url userinfo", func(id string) string { return leakMark + id + "/u1@" + leakMark + id + " u2:%" },
		func(sock string, port uint16, db, pw string) string {
			u := url.UserPassword(pgtest.PasswordRole, pw)
			return fmt.Sprintf("postgres://%s@/%s?host=%s&port=%d&sslmode=disable", u.String(), db, url.QueryEscape(sock), port)
		}},
	{"url query", func(id string) string { return leakMark + id + "&q1=" + leakMark + id + " q2" },
		func(sock string, port uint16, db, pw string) string {
			return fmt.Sprintf("postgresql://%s@/%s?host=%s&port=%d&sslmode=disable&password=%s",
				pgtest.PasswordRole, db, url.QueryEscape(sock), port, strings.ReplaceAll(url.QueryEscape(pw), "+", "%20")) // libpq reads + as +
		}},
}

// dsnSource passes a DSN to churnctl: a flag, a CHURNCTL_* variable, or
// the config file.
type dsnSource struct {
	name  string
	apply func(t *testing.T, dir, dsn string, n int) (args, env []string)
}

var dsnSources = []dsnSource{
	{"flag", func(t *testing.T, dir, dsn string, n int) ([]string, []string) {
		return []string{"--load.dsn", dsn}, nil
	}},
	{"env", func(t *testing.T, dir, dsn string, n int) ([]string, []string) {
		// Both spellings: the documented short one and the derived one.
		if n%2 == 0 {
			return nil, []string{"CHURNCTL_DSN=" + dsn}
		}
		return nil, []string{"CHURNCTL_LOAD_DSN=" + dsn}
	}},
	{"yaml", func(t *testing.T, dir, dsn string, n int) ([]string, []string) {
		b, err := yaml.Marshal(map[string]any{"load": map[string]any{"dsn": dsn}})
		if err != nil {
			t.Fatal(err)
		}
		// The user's file, outside the lake: churnctl reads it, never writes it.
		p := filepath.Join(dir, fmt.Sprintf("churnctl-%d.yaml", n))
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return []string{"--config", p}, nil
	}},
}

// churnctlEnv runs the binary with extra environment variables.
func churnctlEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(cleanEnv(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("churnctl %v: %v", args, err)
	}
	return r
}

// leakScan collects everything churnctl wrote and reports any byte of a
// planted password in it.
type leakScan struct {
	t       *testing.T
	report  func(format string, args ...any) // t.Errorf
	scanned int                              // bytes
	places  int
}

func (s *leakScan) bytes(where string, b []byte) {
	s.t.Helper()
	s.scanned += len(b)
	s.places++
	if i := bytes.Index(b, []byte(leakMark)); i >= 0 {
		lo, hi := max(0, i-120), min(len(b), i+80)
		s.report("planted password in %s:\n…%s…", where, b[lo:hi])
	}
}

func (s *leakScan) result(where string, r result) {
	s.t.Helper()
	s.bytes(where+" stdout", []byte(r.stdout))
	s.bytes(where+" stderr", []byte(r.stderr))
}

// tree scans every file under dir (hidden ones, temp files and the
// registry in LAKE/models included) modified after since.
func (s *leakScan) tree(where, dir string, since time.Time) {
	s.t.Helper()
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.Mode().IsRegular() || fi.ModTime().Before(since) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s.bytes(where+" "+p, b)
		return nil
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// database scans every row of every table outside the system schemas.
func (s *leakScan) database(where, adminDSN string) {
	s.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `select format('%I.%I', table_schema, table_name) from information_schema.tables
		where table_schema not in ('pg_catalog', 'information_schema') and table_type = 'BASE TABLE' order by 1`)
	if err != nil {
		s.t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		s.t.Fatal(err)
	}
	if len(tables) < 5 {
		s.t.Fatalf("%s: only %d tables (%v): the loads did not happen", where, len(tables), tables)
	}
	for _, tb := range tables {
		var dump string
		if err := conn.QueryRow(ctx, "select coalesce(string_agg(t::text, E'\\n'), '') from "+tb+" t").Scan(&dump); err != nil {
			s.t.Fatalf("dump %s: %v", tb, err)
		}
		s.bytes(where+" table "+tb, []byte(dump))
	}
}

// TestPlantedSecretsNeverWritten plants a distinct password in every DSN
// form through every source, runs the whole job against the tests'
// PostgreSQL with it (right password, wrong password, server down), and
// scans every byte churnctl wrote: stdout, stderr, every file of the lake
// and the registry, every table of the database. Also --dry-run, config
// show and --resume.
func TestPlantedSecretsNeverWritten(t *testing.T) {
	adminDSN := pgtest.New(t)
	cfg, err := pgconn.ParseConfig(adminDSN)
	if err != nil {
		t.Fatal(err)
	}
	sock, port, db := cfg.Host, cfg.Port, cfg.Database
	pgtest.SetPassword(t, adminDSN, "unused-initial") // creates the role, grants it the database
	down := pgtest.Down(t)
	downCfg, _ := pgconn.ParseConfig(down)

	work := t.TempDir()
	lakeDir := filepath.Join(work, "lake")
	scan := &leakScan{t: t, report: t.Errorf}
	// The scan catches what churnctl does print: a lake path (not a
	// secret) with the mark in it.
	var caught []string
	probe := &leakScan{t: t, report: func(f string, a ...any) { caught = append(caught, fmt.Sprintf(f, a...)) }}
	probe.result("probe", churnctl(t, "config", "show", "--lake", filepath.Join(work, leakMark+"-probe")))
	if len(caught) != 1 {
		t.Fatalf("the scan missed a marked lake path in config show's output (caught %d)", len(caught))
	}
	n := 0
	plant := func(outcome string, f dsnForm) (pw, dsn string) {
		n++
		pw = f.password(fmt.Sprintf("%02d", n))
		switch outcome {
		case "ok":
			pgtest.SetPassword(t, adminDSN, pw)
			dsn = f.dsn(sock, port, db, pw)
		case "wrong":
			dsn = f.dsn(sock, port, db, pw) // the role's password is another one
		case "down":
			dsn = f.dsn(downCfg.Host, downCfg.Port, "postgres", pw)
		}
		return pw, dsn
	}
	wantCode := map[string]int{"ok": 0, "wrong": 2, "down": 4}

	// The whole job, from nothing, with the DSN on the command line.
	_, dsn := plant("ok", dsnForms[0])
	r := churnctl(t, withSample(t, runArgs(lakeDir, "--load.dsn", dsn))...)
	scan.result("first run", r)
	if r.code != 0 {
		t.Fatalf("first run: exit %d\n%s", r.code, tail(r.stderr))
	}
	if r.summary["load_rows"] == nil {
		t.Fatalf("first run loaded nothing: %v", r.summary)
	}
	scan.tree("after the first run", lakeDir, time.Time{})
	start := time.Now()
	base := lakeFiles(t, lakeDir)

	// Every source × form, refused (wrong password) and failing (server
	// down), on the first run's lake: every stage is current but load,
	// which connects with the planted password. Each form also loads with
	// the right password once, its source rotating (a load takes seconds;
	// the first run and --resume load through the flag too).
	for si, src := range dsnSources {
		for fi, f := range dsnForms {
			outcomes := []string{"wrong", "down"}
			if (si+fi)%len(dsnSources) == 0 {
				outcomes = append(outcomes, "ok")
			}
			for _, outcome := range outcomes {
				name := src.name + "/" + f.name + "/" + outcome
				since := resetLake(t, lakeDir, base) // the files before it were scanned
				_, dsn := plant(outcome, f)
				args, env := src.apply(t, work, dsn, n)
				r := churnctlEnv(t, env, append(withSample(t, runArgs(lakeDir, "--log-format", []string{"json", "text"}[n%2])), args...)...)
				scan.result(name, r)
				if r.code != wantCode[outcome] {
					t.Errorf("%s: exit %d, want %d\n%s", name, r.code, wantCode[outcome], tail(r.stderr))
				}
				scan.tree(name, lakeDir, since)

				dry := churnctlEnv(t, env, append(withSample(t, runArgs(lakeDir, "--dry-run")), args...)...)
				scan.result(name+" --dry-run", dry)
				// Masked, not blanked: the load line still says where it connects.
				host := filepath.Base(sock)
				if outcome == "down" {
					host = filepath.Base(downCfg.Host)
				}
				loadLine := regexp.MustCompile(`(?m)^load .*$`).FindString(dry.stdout)
				if dry.code != 0 || !strings.Contains(loadLine, host) || !strings.Contains(loadLine, "****") {
					t.Errorf("%s --dry-run: exit %d, no load stage with the host and the password masked:\n%s%s", name, dry.code, dry.stdout, tail(dry.stderr))
				}
				show := churnctlEnv(t, env, append([]string{"config", "show"}, args...)...)
				scan.result(name+" config show", show)
				if show.code != 0 || !strings.Contains(show.stdout, "****") {
					t.Errorf("%s config show: exit %d, no masked DSN:\n%s%s", name, show.code, show.stdout, tail(show.stderr))
				}
			}
		}
	}

	t.Logf("every source and form: %v", time.Since(start))

	// --resume after a refused password: the failed run's --load.dsn is
	// recorded masked, so resuming without one asks for it, and resuming
	// with the right one finishes the run.
	since := resetLake(t, lakeDir, base)
	_, wrong := plant("wrong", dsnForms[1])
	r = churnctl(t, withSample(t, runArgs(lakeDir, "--load.dsn", wrong))...)
	scan.result("resume: the failed run", r)
	if r.code != 2 {
		t.Errorf("run with a wrong password: exit %d, want 2\n%s", r.code, tail(r.stderr))
	}
	r = churnctl(t, "run", "--resume", "--lake", lakeDir)
	scan.result("resume without the DSN", r)
	if r.code != 2 || !strings.Contains(r.stderr, "give it again") {
		t.Errorf("resume without the DSN: exit %d, want 2 asking for it\n%s", r.code, tail(r.stderr))
	}
	_, right := plant("ok", dsnForms[3])
	r = churnctl(t, "run", "--resume", "--lake", lakeDir, "--load.dsn", right)
	scan.result("resume with the DSN", r)
	if r.code != 0 {
		t.Errorf("resume with the right DSN: exit %d\n%s", r.code, r.stderr)
	}
	scan.tree("after resume", lakeDir, since)
	scan.database("the warehouse", adminDSN)
	t.Logf("scanned %d bytes in %d places; %d passwords planted", scan.scanned, scan.places, n)
}

// lakeFiles lists the regular files under dir.
func lakeFiles(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files := map[string]bool{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			files[p] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// resetLake takes the lake back to the first run's: it removes the files
// added since (the later runs' records) and forgets that load ran, so the
// next run connects; every other stage stays current. Files modified after
// the time it returns are new.
func resetLake(t *testing.T, dir string, base map[string]bool) time.Time {
	t.Helper()
	for p := range lakeFiles(t, dir) {
		if !base[p] {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := filepath.Join(dir, ".run-state.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	delete(st["stages"].(map[string]any), "load")
	b, _ = json.Marshal(st)
	since := time.Now()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return since
}
