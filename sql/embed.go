package sql

// The warehouse's versioned schema migrations, embedded into the binary.
// Files follow golang-migrate's naming: migrations/{version}_{title}.up.sql,
// applied in version order by Migrate (migrate.go).

import "embed"

// embeddedMigrations holds migrations/*.sql.
//
//go:embed migrations/*.sql
var embeddedMigrations embed.FS
