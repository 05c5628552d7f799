// Package sql holds the warehouse's versioned schema migrations, embedded
// into the binary. Files follow golang-migrate's naming:
// migrations/{version}_{title}.up.sql, applied in version order by
// internal/warehouse.
package sql

import "embed"

// Migrations holds migrations/*.sql.
//
//go:embed migrations/*.sql
var Migrations embed.FS
