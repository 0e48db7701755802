package db

import (
	"context"
	"database/sql"

	"github.com/pressly/goose/v3"

	"github.com/spalloc/spallocd/migrations"
)

// NewMigrator returns a goose provider over the embedded migrations, for
// tools and tests that step through versions.
func NewMigrator(conn *sql.DB) (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectSQLite3, conn, migrations.FS)
}

// Migrate applies every pending migration. Opening an up-to-date database is
// a no-op.
func Migrate(ctx context.Context, conn *sql.DB) error {
	p, err := NewMigrator(conn)
	if err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}
