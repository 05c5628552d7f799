package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/churnctl/churnctl/internal/miniotest"
	"github.com/churnctl/churnctl/internal/pgtest"
)

// TestREADME runs every code block of README.md, in order, the way a new
// user would: from a copy of what the examples need (testdata/,
// churnctl.example.yaml), with bin/ on PATH after the README's own
// `make build`, and a HOME of its own. It fails when a command of a block
// fails, so the README cannot drift from the tool.
//
// How each kind of block runs (and what is honestly not run):
//
//   - sh: every command, in one bash per block (set -o pipefail), each
//     checked for exit 0; a pipeline into `head` may end its writer with
//     SIGPIPE (141) as in any shell. The README's scratch paths under /tmp/
//     are mapped to a temporary directory of the test. Blocks that run
//     `churnctl db` or `churnctl load` get CHURNCTL_DSN, the README's way
//     of naming the database, pointing at a private PostgreSQL
//     (internal/pgtest). Blocks that name s3:// inputs get the AWS
//     environment of a private MinIO (internal/miniotest) whose bucket
//     churnctl-logs holds the bundled sample under logs/2018/11/, as the
//     README's text says to set it up. `make` targets run with -C on this repository:
//     build (with BIN in the copy's bin/), demo (with DEMO under the
//     temporary directory) and lint for real; test, test-short and
//     test-race as `make -n` (running the suite from inside the suite would
//     recurse) and bench as `make -n` (it needs DuckDB and minutes). A make
//     target without a rule here fails the test.
//   - yaml: the configuration is checked by `churnctl config show`.
//   - cron: each entry has five time fields and a command that `bash -n`
//     parses, and every flag of its churnctl call exists (`--help`); cron
//     itself is not run.
//   - python: `ast.parse`s (python3), and every flag of the churnctl calls
//     in its bash_command strings exists; Airflow is not run.
//   - sql: every statement runs against the database the sh blocks loaded.
//   - a block without a language (the lake layout) is text, not run.
func TestREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("builds churnctl and runs the README's examples")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, filepath.Join(repo, "README.md"))
	root := t.TempDir()
	work, home, tmp := filepath.Join(root, "repo"), filepath.Join(root, "home"), filepath.Join(root, "tmp")
	for _, d := range []string{work, home, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"testdata", "churnctl.example.yaml"} {
		if out, err := exec.Command("cp", "-r", filepath.Join(repo, p), work).CombinedOutput(); err != nil {
			t.Fatalf("cp %s: %v %s", p, err, out)
		}
	}
	// The README's commands use /tmp/...: the test's own directory instead.
	// churnctl.example.yaml names /tmp/lake too.
	mapTmp := func(s string) string { return strings.ReplaceAll(s, "/tmp/", tmp+"/") }
	cfgPath := filepath.Join(work, "churnctl.example.yaml")
	if b, err := os.ReadFile(cfgPath); err == nil {
		os.WriteFile(cfgPath, []byte(mapTmp(string(b))), 0o644)
	}
	env := readmeEnv(t, work, home)
	var dsn string
	database := func() string {
		if dsn == "" {
			dsn = pgtest.New(t)
		}
		return dsn
	}
	bin := filepath.Join(work, "bin", "churnctl")

	for _, b := range blocks {
		name := fmt.Sprintf("line%d_%s", b.line, cmpOr(b.lang, "text"))
		ok := t.Run(name, func(t *testing.T) {
			switch b.lang {
			case "sh":
				blockEnv := env
				if regexp.MustCompile(`churnctl (db|load)\b`).MatchString(b.text) {
					blockEnv = append(append([]string{}, env...), "CHURNCTL_DSN="+database())
				}
				if strings.Contains(b.text, "s3://") {
					blockEnv = append(append([]string{}, blockEnv...), readmeS3(t, repo)...)
				}
				runShellBlock(t, b, mapTmp, repo, work, tmp, blockEnv)
			case "yaml":
				p := filepath.Join(tmp, "readme.yaml")
				if err := os.WriteFile(p, []byte(b.text), 0o644); err != nil {
					t.Fatal(err)
				}
				if out, err := command(env, work, bin, "config", "show", "--config", p).CombinedOutput(); err != nil {
					t.Fatalf("README.md:%d: churnctl config show of the YAML block: %v\n%s", b.line, err, out)
				}
			case "cron":
				checkCronBlock(t, b, env, work, bin)
			case "python":
				checkPythonBlock(t, b, env, work, bin)
			case "sql":
				runSQLBlock(t, b, database())
			case "":
				t.Logf("README.md:%d: a text block (no language), not run", b.line)
			default:
				t.Fatalf("README.md:%d: a %q block, which this test does not know how to check", b.line, b.lang)
			}
		})
		if !ok {
			t.Fatalf("README.md:%d failed; the blocks after it depend on it", b.line)
		}
	}
}

type readmeBlock struct {
	lang string
	line int // of the first line of code
	text string
}

func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []readmeBlock
	var cur *readmeBlock
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(l, "```"):
			cur = &readmeBlock{lang: strings.TrimSpace(strings.TrimPrefix(l, "```")), line: n + 1}
		case cur != nil && strings.TrimSpace(l) == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += l + "\n"
		}
	}
	if cur != nil {
		t.Fatalf("README.md: the block at line %d is not closed", cur.line)
	}
	if len(out) < 10 {
		t.Fatalf("README.md has only %d code blocks: the parser is broken", len(out))
	}
	return out
}

// readmeEnv is a user's environment: no CHURNCTL_* or PG* settings, bin/ on
// PATH, a fresh HOME, and the Go caches of this machine (a fresh HOME
// would otherwise rebuild the module from scratch).
func readmeEnv(t *testing.T, work, home string) []string {
	t.Helper()
	var env []string
	for _, kv := range cleanEnv() {
		if !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		out, err := exec.Command("go", "env", k).Output()
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, k+"="+strings.TrimSpace(string(out)))
	}
	return append(env, "HOME="+home, "PATH="+filepath.Join(work, "bin")+":"+os.Getenv("PATH"))
}

// readmeS3 makes the bucket churnctl-logs on the package's MinIO with the
// sample at logs/2018/11/events.json.gz, and returns the AWS environment that
// reaches it (the machine's own AWS settings shut out).
func readmeS3(t *testing.T, repo string) []string {
	t.Helper()
	env := miniotest.New(t)
	ctx := context.Background()
	const bucket = "churnctl-logs"
	if err := env.Server.MakeBucket(ctx, bucket); err != nil && !strings.Contains(err.Error(), "BucketAlreadyOwnedByYou") {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(repo, "testdata", "sample", "events.json.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Server.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket),
		Key: aws.String("logs/2018/11/events.json.gz"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	none := filepath.Join(t.TempDir(), "none")
	return []string{"AWS_ACCESS_KEY_ID=" + env.AccessKey, "AWS_SECRET_ACCESS_KEY=" + env.SecretKey, "AWS_SESSION_TOKEN=",
		"AWS_REGION=" + env.Region, "AWS_DEFAULT_REGION=", "AWS_PROFILE=", "AWS_ENDPOINT_URL_S3=" + env.Endpoint,
		"AWS_ENDPOINT_URL=", "AWS_CONFIG_FILE=" + none, "AWS_SHARED_CREDENTIALS_FILE=" + none,
		"AWS_WEB_IDENTITY_TOKEN_FILE=", "AWS_ROLE_ARN=", "AWS_EC2_METADATA_DISABLED=true"}
}

func command(env []string, dir, name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Env, c.Dir = env, dir
	return c
}

// logicalLines joins backslash continuations and drops blank lines and
// whole-line comments; each line keeps the README line it starts on.
func logicalLines(b readmeBlock) (lines []string, at []int) {
	cur, start := "", 0
	for i, l := range strings.Split(strings.TrimSuffix(b.text, "\n"), "\n") {
		if cur == "" {
			start = b.line + i
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\")
			continue
		}
		cur += l
		if s := strings.TrimSpace(cur); s != "" && !strings.HasPrefix(s, "#") {
			lines, at = append(lines, cur), append(at, start)
		}
		cur = ""
	}
	return lines, at
}

var makeLine = regexp.MustCompile(`^make\s+([a-z-]+)`)

// makePolicy is how a `make TARGET` line of the README runs here (see
// TestREADME): the command that replaces `make TARGET`, and why when it is
// a dry run.
func makePolicy(target, repo, work, tmp string) (cmd, dry string, ok bool) {
	bin := filepath.Join(work, "bin", "churnctl")
	switch target {
	case "build":
		return fmt.Sprintf("make -C %q build BIN=%q", repo, bin), "", true
	case "demo":
		return fmt.Sprintf("make -C %q demo BIN=%q DEMO=%q", repo, bin, filepath.Join(tmp, "churnctl-demo")), "", true
	case "lint":
		return fmt.Sprintf("make -C %q lint", repo), "", true
	case "minio":
		// For real: .ci/run builds the pinned server before the tests, so
		// here it finds it in the cache (a fraction of a second).
		return fmt.Sprintf("make -C %q minio", repo), "", true
	case "test", "test-short", "test-race":
		return fmt.Sprintf("make -C %q -n %s", repo, target), "the test suite from inside the test suite would recurse", true
	case "bench":
		return fmt.Sprintf("make -C %q -n bench", repo), "it needs DuckDB and takes minutes", true
	}
	return "", "", false
}

func runShellBlock(t *testing.T, b readmeBlock, mapTmp func(string) string, repo, work, tmp string, env []string) {
	t.Helper()
	lines, at := logicalLines(b)
	var script strings.Builder
	script.WriteString("set -o pipefail\n")
	for i, l := range lines {
		run := l
		if m := makeLine.FindStringSubmatch(l); m != nil {
			cmd, dry, ok := makePolicy(m[1], repo, work, tmp)
			if !ok {
				t.Fatalf("README.md:%d: make %s has no rule in this test (makePolicy): say how to run it", at[i], m[1])
			}
			if dry != "" {
				t.Logf("README.md:%d: make %s as a dry run (make -n): %s", at[i], m[1], dry)
			}
			run = cmd + l[len(m[0]):]
		} else {
			run = mapTmp(l)
		}
		okCodes := "0"
		if regexp.MustCompile(`\|\s*head\b`).MatchString(l) {
			okCodes = "0|141" // head stops reading: the writer gets SIGPIPE
		}
		fmt.Fprintf(&script, "%s\n__rc=$?\ncase $__rc in %s) ;; *) echo \"README.md:%d: exit $__rc: %s\" >&2; exit 1;; esac\n",
			run, okCodes, at[i], strings.ReplaceAll(strings.ReplaceAll(l, `\`, `\\`), `"`, `\"`))
	}
	cmd := command(env, work, "bash", "--noprofile", "--norc", "-c", script.String())
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("README.md:%d: the block failed (%v):\n%s", b.line, err, tail(out.String()))
	}
	t.Logf("README.md:%d: %d commands ran", b.line, len(lines))
}

// churnctlCalls returns the argument lists of the churnctl invocations in a
// shell command line (up to a redirection or another command).
func churnctlCalls(line string) [][]string {
	var calls [][]string
	fields := strings.Fields(line)
	for i := 0; i < len(fields); i++ {
		if fields[i] != "churnctl" {
			continue
		}
		var args []string
		for _, f := range fields[i+1:] {
			if strings.ContainsAny(f[:1], ">|&;") || strings.HasPrefix(f, "2>") {
				break
			}
			args = append(args, f)
		}
		calls = append(calls, args)
	}
	return calls
}

// checkFlags checks that every --flag of a churnctl call exists on its
// command (as listed by --help).
func checkFlags(t *testing.T, where string, args []string, env []string, work, bin string) {
	t.Helper()
	var path []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			break
		}
		path = append(path, a)
	}
	help, err := command(env, work, bin, append(path, "--help")...).Output()
	if err != nil || len(path) == 0 {
		t.Errorf("%s: churnctl %s --help: %v", where, strings.Join(path, " "), err)
		return
	}
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			continue
		}
		flag, _, _ := strings.Cut(a, "=")
		if !bytes.Contains(help, []byte(flag+" ")) {
			t.Errorf("%s: churnctl %s has no flag %s", where, strings.Join(path, " "), flag)
		}
	}
}

func checkCronBlock(t *testing.T, b readmeBlock, env []string, work, bin string) {
	t.Helper()
	lines, at := logicalLines(b)
	for i, l := range lines {
		where := fmt.Sprintf("README.md:%d", at[i])
		f := strings.Fields(l)
		if len(f) < 6 {
			t.Errorf("%s: a cron entry needs five time fields and a command: %q", where, l)
			continue
		}
		for _, tf := range f[:5] {
			if !regexp.MustCompile(`^(\*|[0-9]+)([-,/][0-9]+)*$|^\*/[0-9]+$`).MatchString(tf) {
				t.Errorf("%s: cron time field %q", where, tf)
			}
		}
		// cron passes the command to sh with % meaning newline unless escaped.
		cmdText := strings.ReplaceAll(strings.Join(f[5:], " "), `\%`, "%")
		if out, err := command(env, work, "bash", "-n", "-c", cmdText).CombinedOutput(); err != nil {
			t.Errorf("%s: bash -n: %v %s", where, err, out)
		}
		calls := churnctlCalls(cmdText)
		if len(calls) == 0 {
			t.Errorf("%s: no churnctl call", where)
		}
		for _, c := range calls {
			checkFlags(t, where, c, env, work, bin)
		}
	}
	t.Logf("README.md:%d: %d cron entries parsed and their churnctl flags checked (cron is not run)", b.line, len(lines))
}

func checkPythonBlock(t *testing.T, b readmeBlock, env []string, work, bin string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("README.md:%d: python3 is needed to check the Airflow DAG", b.line)
		}
		t.Skipf("README.md:%d: no python3 to parse the Airflow DAG", b.line)
	}
	cmd := command(env, work, py, "-c", "import ast, sys; ast.parse(sys.stdin.read(), 'README.md')")
	cmd.Stdin = strings.NewReader(b.text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("README.md:%d: the Airflow DAG does not parse: %v\n%s", b.line, err, out)
	}
	n := 0
	for _, m := range regexp.MustCompile(`bash_command="([^"]*)"`).FindAllStringSubmatch(b.text, -1) {
		for _, c := range churnctlCalls(m[1]) {
			checkFlags(t, fmt.Sprintf("README.md:%d bash_command", b.line), c, env, work, bin)
			n++
		}
	}
	if n == 0 {
		t.Errorf("README.md:%d: no churnctl call in a bash_command", b.line)
	}
	t.Logf("README.md:%d: the DAG parses (python3 ast) and its %d churnctl calls use existing flags (Airflow is not run)", b.line, n)
}

func runSQLBlock(t *testing.T, b readmeBlock, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	n := 0
	for _, stmt := range strings.Split(b.text, ";") {
		var sqlLines []string
		for _, l := range strings.Split(stmt, "\n") {
			if s := strings.TrimSpace(l); s != "" && !strings.HasPrefix(s, "--") {
				sqlLines = append(sqlLines, l)
			}
		}
		if len(sqlLines) == 0 {
			continue
		}
		q := strings.Join(sqlLines, "\n")
		rows, err := conn.Query(ctx, q)
		if err == nil {
			for rows.Next() {
			}
			rows.Close()
			err = rows.Err()
		}
		if err != nil {
			t.Errorf("README.md:%d: %v\n%s", b.line, err, q)
		}
		n++
	}
	t.Logf("README.md:%d: %d SQL statements ran against the loaded warehouse", b.line, n)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
