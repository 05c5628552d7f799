// Package pgtest gives tests a throwaway PostgreSQL: one private server per
// test package, a fresh database per test.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
// and call New(t) in each test that needs a database. The server is started
// on first use from the installed binaries (pg_config --bindir, else
// /usr/lib/postgresql/*/bin): initdb in a temp dir, unix socket only
// (empty listen_addresses), fsync off. As root the server runs as the postgres
// user, because initdb refuses root. It is stopped when the package's tests
// end, and also when the test binary dies (parent-death signal).
//
// CHURNCTL_TEST_DSN=... uses an existing server instead (its user needs
// CREATEDB). Tests are skipped, with the reason, under -short or when no
// binaries are found; when the CI variable is set, missing binaries fail the
// tests instead of skipping them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// PasswordRole is the role that must log in with a password on the private
// server (pg_hba: scram-sha-256 for it, trust for everybody else).
const PasswordRole = "churnctl_pw"

// server is the package's cluster, started at most once.
type server struct {
	once     sync.Once
	err      error  // start failure
	skip     string // reason to skip, if any
	adminDSN string // superuser DSN without dbname
	private  bool   // started by us (pg_hba is ours)
	sockDir  string
	port     int
	dir      string
	cmd      *exec.Cmd
	done     chan error
	stopOnce sync.Once
}

var (
	srv   server
	dbSeq atomic.Int64
)

// Main runs the tests of a package and stops the server afterwards. Call it
// from TestMain: os.Exit(pgtest.Main(m)).
func Main(m *testing.M) int {
	if !flag.Parsed() {
		flag.Parse()
	}
	code := m.Run()
	srv.stop()
	return code
}

func (s *server) start() {
	if dsn := os.Getenv("CHURNCTL_TEST_DSN"); dsn != "" {
		s.adminDSN = dsn
		return
	}
	if testing.Short() {
		s.skip = "PostgreSQL integration test skipped under -short"
		return
	}
	bin, err := binDir()
	if err != nil {
		if os.Getenv("CI") != "" {
			s.err = fmt.Errorf("pgtest: %v (CI is set, so this fails instead of skipping; install postgresql)", err)
		} else {
			s.skip = fmt.Sprintf("pgtest: %v; install postgresql or set CHURNCTL_TEST_DSN", err)
		}
		return
	}
	if err := s.startPrivate(bin); err != nil {
		s.err = err
		s.stop()
	}
}

// binDir finds the directory holding initdb and postgres.
func binDir() (string, error) {
	var cands []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		cands = append(cands, strings.TrimSpace(string(out)))
	}
	globbed, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(globbed))) // newest major first
	cands = append(cands, "/usr/lib/postgresql/15/bin")
	cands = append(cands, globbed...)
	for _, d := range cands {
		if fileExists(filepath.Join(d, "initdb")) && fileExists(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, postgres) found via pg_config --bindir or /usr/lib/postgresql/*/bin")
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// credential returns the process credential to run server binaries with:
// the postgres user when we are root, nil otherwise.
func credential() (*syscall.Credential, int, int, error) {
	if os.Getuid() != 0 {
		return nil, -1, -1, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("pgtest: running as root and there is no postgres user to run the server as: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 54329
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *server) startPrivate(bin string) error {
	cred, uid, gid, err := credential()
	if err != nil {
		return err
	}
	// os.MkdirTemp under $TMPDIR; unix socket paths are limited to ~107
	// bytes, so fall back to /tmp for long TMPDIRs.
	base := ""
	if len(os.TempDir()) > 60 {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, "churnctl-pgtest-")
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	s.dir = dir
	// The postgres user must reach the directory: 0755 on it, and its
	// parents must be searchable (true for /tmp and the default TMPDIR).
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if cred != nil {
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("pgtest: %w", err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Dir = dir
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	// The password role authenticates with scram; everybody else is trusted.
	hba := "local all " + PasswordRole + " scram-sha-256\nlocal all all trust\n"
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	if cred != nil {
		_ = os.Chown(filepath.Join(data, "pg_hba.conf"), uid, gid)
	}
	s.sockDir = dir
	s.port = freePort()
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	s.done = make(chan error, 1)
	started := make(chan error, 1)
	// The server is our child with a parent-death signal, so a killed test
	// binary does not leave it running. Pdeathsig fires when the thread that
	// forked exits: keep that goroutine locked to its thread until the
	// server has stopped.
	go func() {
		runtime.LockOSThread()
		defer logf.Close()
		cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
			"-c", "listen_addresses=", "-c", "unix_socket_directories="+dir, "-c", "port="+strconv.Itoa(s.port),
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=100", "-c", "shared_buffers=128MB")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			started <- err
			s.done <- err
			return
		}
		s.cmd = cmd
		started <- nil
		s.done <- cmd.Wait()
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s.private = true
	s.adminDSN = fmt.Sprintf("host=%s port=%d user=postgres sslmode=disable", dir, s.port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.adminDSN+" dbname=postgres")
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case werr := <-s.done:
			s.done <- werr
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			return fmt.Errorf("pgtest: postgres exited: %v\n%s", werr, log)
		case <-ctx.Done():
			log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			return fmt.Errorf("pgtest: postgres not ready after 60s: %v\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop shuts a private server down (fast shutdown) and removes its files.
func (s *server) stop() {
	s.stopOnce.Do(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-s.done:
			case <-time.After(30 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		}
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
	})
}

func ensure(t testing.TB) {
	t.Helper()
	srv.once.Do(srv.start)
	if srv.skip != "" {
		t.Skip(srv.skip)
	}
	if srv.err != nil {
		t.Fatal(srv.err)
	}
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// New creates a fresh, empty database for this test, drops it when the test
// ends, and returns its DSN (keyword/value form, no password for the private
// server).
func New(t testing.TB) string {
	t.Helper()
	ensure(t)
	name := strings.ToLower(t.Name())
	name = nonIdent.ReplaceAllString(name, "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t%d_%s", dbSeq.Add(1), name)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, withDB(srv.adminDSN, "postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		c, err := pgx.Connect(ctx, withDB(srv.adminDSN, "postgres"))
		if err != nil {
			t.Errorf("pgtest: connect to drop %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDB(srv.adminDSN, name)
}

// NewPool is New plus a pool on the database, closed when the test ends.
func NewPool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	dsn := New(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(pool.Close)
	return pool, dsn
}

// PasswordDSN makes PasswordRole able to log in to the database of dsn with
// a fresh random password and returns a DSN for it without the password
// (pass it as PGPASSWORD or add it yourself) and the password. It skips the
// test on an external server (CHURNCTL_TEST_DSN), whose pg_hba is not ours.
func PasswordDSN(t testing.TB, dsn string) (string, string) {
	t.Helper()
	var b [12]byte
	_, _ = rand.Read(b[:])
	pw := "pw-" + hex.EncodeToString(b[:])
	return SetPassword(t, dsn, pw), pw
}

// SetPassword is PasswordDSN with a password of the caller's choosing (any
// text: spaces, quotes and backslashes included). The role is the
// server's, not the database's: the last password set wins for every
// database.
func SetPassword(t testing.TB, dsn, pw string) string {
	t.Helper()
	ensure(t)
	if !srv.private {
		t.Skip("pgtest: password authentication needs the private server (CHURNCTL_TEST_DSN is set)")
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer c.Close(ctx)
	// Role DDL takes no parameters: the password is quoted as a literal
	// through the server's quote_literal.
	var lit string
	if err := c.QueryRow(ctx, "SELECT quote_literal($1::text)", pw).Scan(&lit); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	role := pgx.Identifier{PasswordRole}.Sanitize()
	if _, err := c.Exec(ctx, "DO $$BEGIN CREATE ROLE "+role+" LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$"); err != nil {
		t.Fatalf("pgtest: create role: %v", err)
	}
	if _, err := c.Exec(ctx, "ALTER ROLE "+role+" LOGIN PASSWORD "+lit); err != nil {
		t.Fatalf("pgtest: set password: %v", err)
	}
	var db string
	if err := c.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if _, err := c.Exec(ctx, "GRANT ALL ON DATABASE "+pgx.Identifier{db}.Sanitize()+" TO "+role); err != nil {
		t.Fatalf("pgtest: grant: %v", err)
	}
	return withDB(srv.adminDSN, db) + " user=" + PasswordRole
}

// Down returns a DSN for a server that does not run (an empty socket
// directory), for tests of a database that is down.
func Down(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "churnctl-pgdown-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return fmt.Sprintf("host=%s port=5999 user=postgres dbname=postgres sslmode=disable connect_timeout=5", dir)
}

// SocketDir returns the unix socket directory and port of the private
// server ("" and 0 for an external one).
func SocketDir() (string, int) { return srv.sockDir, srv.port }

// withDB returns dsn with its database set to db.
func withDB(dsn, db string) string {
	if strings.Contains(dsn, "://") {
		u, err := url.Parse(dsn)
		if err == nil {
			u.Path = "/" + db
			return u.String()
		}
	}
	return dsn + " dbname=" + db
}
