// Package sql is churnctl's PostgreSQL warehouse (schema churn): its
// versioned migrations (migrations/*.sql, embedded, golang-migrate naming)
// applied under an advisory lock, and binary COPY
// of the lake's Parquet into temporary staging tables, merged into the target
// tables in one transaction per table and day.
//
// Errors wrap the kinds of internal/errkind: transient database
// failures (connection refused or lost, serialization failure, deadlock, lock
// or statement timeout, server shutdown) wrap ErrTransient (exit 4);
// an authentication failure or a database that does not exist wraps
// ErrConfig (exit 2: fix the connection setting, which the message names);
// missing required columns and row-count mismatches wrap ErrBadInput (exit
// 3): retrying with the same configuration or data cannot succeed. No error or log line carries the connection password.
package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/churnctl/churnctl/internal/errkind"
	"github.com/churnctl/churnctl/internal/secret"
)

// ConnOptions configures a connection.
type ConnOptions struct {
	// DSN is a libpq keyword/value string or a postgres:// URL; empty means
	// the PG* environment variables and libpq defaults (pgx.ParseConfig).
	DSN secret.DSN
	// StatementTimeout and LockTimeout are set on the session when > 0.
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	// ConnectTimeout bounds connecting; 0 means 10 s.
	ConnectTimeout time.Duration
}

// Target describes where a config points, without secrets, for logs.
type Target struct {
	Host, Database, User string
	Port                 uint16
}

func (t Target) String() string {
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s", t.Host, t.Port, t.Database, t.User)
}

// ParseConfig parses o.DSN (falling back to PG* variables, as libpq does)
// and applies the timeouts. Parse errors never carry the password.
func ParseConfig(o ConnOptions) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(o.DSN.Reveal())
	if err != nil {
		// pgconn already masks passwords in parse errors; scrub every
		// form of the DSN's passwords anyway (secret.NewDSN registered
		// them).
		return nil, fmt.Errorf("%w: invalid connection string: %s", errkind.Usage, secret.Scrub(err.Error()))
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if o.StatementTimeout > 0 {
		cfg.RuntimeParams["statement_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	}
	if o.LockTimeout > 0 {
		cfg.RuntimeParams["lock_timeout"] = fmt.Sprint(o.LockTimeout.Milliseconds())
	}
	cfg.RuntimeParams["application_name"] = "churnctl"
	// Staging tables are temporary: keep a day of them in memory (the
	// default 8MB spills a 50,000-row day to disk). Session-local, allocated
	// only as used.
	if _, ok := cfg.RuntimeParams["temp_buffers"]; !ok {
		cfg.RuntimeParams["temp_buffers"] = "128MB"
	}
	ct := o.ConnectTimeout
	if ct <= 0 {
		ct = 10 * time.Second
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > ct {
		cfg.ConnectTimeout = ct
	}
	return cfg, nil
}

// TargetOf returns the password-free description of cfg.
func TargetOf(cfg *pgx.ConnConfig) Target {
	return Target{Host: cfg.Host, Port: cfg.Port, Database: cfg.Database, User: cfg.User}
}

// Connect opens one connection; errors are classified and scrubbed.
func Connect(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, Classify(fmt.Errorf("connect to %s: %w", TargetOf(cfg), err), cfg.Password)
	}
	return conn, nil
}

// transientStates are SQLSTATEs (or classes, two characters) after which a
// retry may succeed.
var transientStates = []string{
	"08",    // connection exception
	"40001", // serialization_failure
	"40P01", // deadlock_detected
	"55P03", // lock_not_available (lock_timeout, NOWAIT)
	"57014", // query_canceled (statement_timeout)
	"57P01", // admin_shutdown (pg_terminate_backend, server stopping)
	"57P02", // crash_shutdown
	"57P03", // cannot_connect_now (server starting)
	"53300", // too_many_connections
	"53",    // insufficient resources
}

// Classify wraps err with the errkind kind it deserves and removes the
// password from its text. nil stays nil; an error that already wraps a
// sentinel keeps it.
func Classify(err error, password string) error {
	if err == nil {
		return nil
	}
	var kind error
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, errkind.Transient), errors.Is(err, errkind.BadInput),
		errors.Is(err, errkind.Usage), errors.Is(err, errkind.Config), errors.Is(err, context.Canceled):
	case errors.As(err, &pgErr):
		switch {
		case pgErr.Code == "28P01" || pgErr.Code == "28000":
			kind = errAuth
		case pgErr.Code == "3D000": // invalid_catalog_name: no such database
			kind = errNoDatabase
		case pgErr.Code == "21000" || pgErr.Code == "23505": // a key twice in one load
			kind = errDuplicate
		case pgErr.Code == "23502" || pgErr.Code == "23514" || pgErr.Code == "22P02" || pgErr.Code == "22003":
			kind = errkind.BadInput // lake data violates a constraint
		default:
			for _, s := range transientStates {
				if strings.HasPrefix(pgErr.Code, s) {
					kind = errkind.Transient
					break
				}
			}
		}
	case isNetErr(err), pgconn.SafeToRetry(err), pgconn.Timeout(err),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		kind = errkind.Transient
	default:
		var ce *pgconn.ConnectError
		if errors.As(err, &ce) {
			kind = errkind.Transient
		}
	}
	msg := scrub(err.Error(), password)
	if kind != nil {
		return &classified{kind: kind, msg: msg, cause: err}
	}
	if msg != err.Error() {
		return &classified{msg: msg, cause: err}
	}
	return err
}

// errAuth is an authentication failure: exit 2 (fix the configuration), not
// 4, since retrying with the same password cannot succeed.
var errAuth = fmt.Errorf("%w: authentication failed (check the user and password of the connection setting: --dsn, load.dsn, CHURNCTL_DSN or PGUSER/PGPASSWORD; a retry with the same settings will not succeed)", errkind.Config)

// errNoDatabase: the database named by the connection does not exist.
var errNoDatabase = fmt.Errorf("%w: the database does not exist (check dbname in the connection setting: --dsn, load.dsn, CHURNCTL_DSN or PGDATABASE; create it with createdb)", errkind.Config)

// errDuplicate: the lake holds a primary key twice (ON CONFLICT cannot
// affect a row twice, or a unique violation on a direct COPY).
var errDuplicate = fmt.Errorf("%w: the lake holds the same primary key more than once", errkind.BadInput)

func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ne) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrNotExist) || errors.Is(err, net.ErrClosed)
}

// classified carries the exit-code kind and a scrubbed message.
type classified struct {
	kind  error
	msg   string
	cause error
}

func (e *classified) Error() string {
	if e.kind == nil {
		return e.msg
	}
	return e.kind.Error() + ": " + e.msg
}

// Unwrap exposes the kind (for exit codes) and the cause (for errors.As on
// *pgconn.PgError); the cause's text is never printed.
func (e *classified) Unwrap() []error {
	if e.kind == nil {
		return []error{e.cause}
	}
	return []error{e.kind, e.cause}
}

// scrub removes the password (in every spelling) and every secret the
// process knows (secret.Register) from s.
func scrub(s, password string) string {
	if password != "" {
		for _, p := range []string{password, url.QueryEscape(password), url.PathEscape(password)} {
			s = strings.ReplaceAll(s, p, secret.Mask)
		}
	}
	return secret.Scrub(s)
}
