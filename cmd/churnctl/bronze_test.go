package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/churnctl/churnctl/etl/bronze"
	"github.com/churnctl/churnctl/internal/lake"
)

// TestETLMalformedDirWritesQuarantine is the run: `etl bronze`
// (and `etl`) over testdata/malformed/ reads its event files, not its
// README.md (listed as skipped), and its exit 3 (a truncated gzip among
// them) writes the quarantine, as the exit code table promises, and
// publishes no events.
func TestETLMalformedDirWritesQuarantine(t *testing.T) {
	dir := filepath.Join("..", "..", "testdata", "malformed") + "/"
	for _, cmd := range [][]string{{"etl", "bronze"}, {"etl"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			lakeDir := t.TempDir()
			code, sum := cli(t, append(cmd, "--lake", lakeDir, dir)...)
			if code != 3 {
				t.Fatalf("exit %d, want 3: %v", code, sum)
			}
			skipped, _ := sum["skipped"].([]any)
			if len(skipped) != 1 || !strings.Contains(fmt.Sprint(skipped[0]), "README.md") || sum["skipped_inputs"] != 1.0 {
				t.Errorf("skipped = %v (skipped_inputs %v), want README.md", sum["skipped"], sum["skipped_inputs"])
			}
			if !strings.Contains(fmt.Sprint(sum["error"]), "truncated.json.gz") {
				t.Errorf("error %v does not name the truncated file", sum["error"])
			}
			byRule, _ := sum["quarantine_by_rule"].(map[string]any)
			l := lake.New(lakeDir)
			files, err := l.Files(lake.BronzeQuarantine)
			if err != nil || len(files) == 0 {
				t.Fatalf("no quarantine written: %v %v", files, err)
			}
			for _, r := range bronze.Rules {
				if byRule[r] == nil {
					t.Errorf("no %s line quarantined: %v", r, byRule)
				}
			}
			if parts, _ := l.Partitions(lake.BronzeEvents); len(parts) != 0 {
				t.Errorf("events published: %v", parts)
			}
			if m, err := l.ReadManifest(lake.BronzeQuarantine, filepath.Base(filepath.Dir(files[0]))); err != nil ||
				m.Rows != int64(sum["rows_quarantined"].(float64)) {
				t.Errorf("quarantine manifest %+v (%v), summary rows_quarantined %v", m, err, sum["rows_quarantined"])
			}
		})
	}
}

// TestETLSignalWhileReadingAPipe: SIGTERM (SIGINT) while `etl` reads
// stdin or a FIFO that never ends (or whose writer never comes) stops the
// run at once with exit 143 (130), publishes nothing and releases the
// lake lock. The process (the test binary through TestETLHelperProcess)
// gets its stdin as a shell gives it: a blocking pipe.
func TestETLSignalWhileReadingAPipe(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	line := `{"ts":1538352820116,"userId":"159","sessionId":1136,"page":"Home","auth":"Logged In","method":"GET","status":200,"level":"paid","itemInSession":2}` + "\n"
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		want int
		cmd  []string
		fifo bool // input: a FIFO (else stdin)
		data bool // the writer writes a line first (and stays)
	}{
		{"stdin etl bronze SIGTERM", syscall.SIGTERM, 143, []string{"etl", "bronze"}, false, true},
		{"stdin etl SIGINT", syscall.SIGINT, 130, []string{"etl"}, false, false},
		{"fifo etl no writer SIGTERM", syscall.SIGTERM, 143, []string{"etl"}, true, false},
		{"fifo etl bronze writer stays SIGTERM", syscall.SIGTERM, 143, []string{"etl", "bronze"}, true, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lakeDir := t.TempDir()
			input := "-"
			if tt.fifo {
				input = filepath.Join(t.TempDir(), "events.fifo")
				if err := syscall.Mkfifo(input, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append(append([]string{"-test.run=^TestETLHelperProcess$", "--"}, tt.cmd...), "--lake", lakeDir, "--log-format", "json", input)
			cmd := exec.Command(os.Args[0], args...)
			cmd.Env = append(os.Environ(), "CHURNCTL_ETL_HELPER=1")
			var w io.WriteCloser
			if !tt.fifo {
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				defer pw.Close()
				cmd.Stdin, w = pr, pw
				defer pr.Close()
			}
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stdout strings.Builder
			cmd.Stdout = &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tt.fifo && tt.data {
				// The writer opens the FIFO (which lets churnctl's open
				// return), writes a line and keeps it open.
				f, err := os.OpenFile(input, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				w = f
			}
			if tt.data {
				if _, err := io.WriteString(w, line); err != nil {
					t.Fatal(err)
				}
			}
			// Wait until bronze has started (it then reads the pipe), and
			// a little more, then signal.
			sc := bufio.NewScanner(stderr)
			for sc.Scan() && !strings.Contains(sc.Text(), `"msg":"bronze start"`) {
			}
			go io.Copy(io.Discard, stderr)
			time.Sleep(300 * time.Millisecond)
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != tt.want {
					t.Fatalf("exit %v, want %d; stdout %s", err, tt.want, stdout.String())
				}
			case <-time.After(60 * time.Second): // a hang, not a timing bar
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("churnctl still running a minute after %v (it ignored the signal while reading)", tt.sig)
			}
			if !strings.Contains(stdout.String(), `"status":"interrupted"`) {
				t.Errorf("summary %q, want status interrupted", stdout.String())
			}
			// Nothing published, and the lock is free: a run on the lake
			// goes through.
			if parts, _ := lake.New(lakeDir).Partitions(lake.BronzeEvents); len(parts) != 0 {
				t.Errorf("events published: %v", parts)
			}
			in := filepath.Join(t.TempDir(), "events.json")
			if err := os.WriteFile(in, []byte(line), 0o644); err != nil {
				t.Fatal(err)
			}
			if code, sum := cli(t, "etl", "bronze", "--lake", lakeDir, in); code != 0 {
				t.Errorf("a run after the signal: exit %d %v", code, sum)
			}
		})
	}
}

// TestRunFingerprintFollowsInputLinks: bronze reads the files a directory
// links to, so the fingerprint that lets `run` skip an unchanged etl must
// change when one of them does (a linked file, a file in a linked
// directory), and a link loop must not hang it.
func TestRunFingerprintFollowsInputLinks(t *testing.T) {
	root := t.TempDir()
	in := filepath.Join(root, "in")
	for _, d := range []string{in, filepath.Join(root, "elsewhere", "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(root, "elsewhere", "a.json")
	deep := filepath.Join(root, "elsewhere", "sub", "b.json")
	for _, f := range []string{target, deep} {
		if err := os.WriteFile(f, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for link, to := range map[string]string{"a.json": target, "linked": filepath.Join(root, "elsewhere", "sub"), "loop": in} {
		if err := os.Symlink(to, filepath.Join(in, link)); err != nil {
			t.Fatal(err)
		}
	}
	before := fingerprint(nil, []string{in})
	for _, f := range []string{target, deep} {
		if err := os.WriteFile(f, []byte("{}\n{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		after := fingerprint(nil, []string{in})
		if after == before {
			t.Errorf("fingerprint unchanged after %s changed", f)
		}
		before = after
	}
}
