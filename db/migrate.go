package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/spalloc/spallocd/migrations"
)

// NewMigrator returns a goose provider over the embedded migrations, for
// tools and tests that step through versions.
func NewMigrator(conn *sql.DB) (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectSQLite3, conn, migrations.FS)
}

// Migrate applies every pending migration. Opening an up-to-date database is
// a no-op. A database whose schema is newer than the newest migration this
// program holds (written by a newer spallocd) is refused: this program
// would misread it.
func Migrate(ctx context.Context, conn *sql.DB) error {
	p, err := NewMigrator(conn)
	if err != nil {
		return err
	}
	if err := checkNotNewer(ctx, p); err != nil {
		return err
	}
	_, err = p.Up(ctx)
	return err
}

// newest is the newest schema version among the embedded migrations.
func newest(p *goose.Provider) int64 {
	var v int64
	for _, s := range p.ListSources() {
		v = max(v, s.Version)
	}
	return v
}

func checkNotNewer(ctx context.Context, p *goose.Provider) error {
	have, err := p.GetDBVersion(ctx)
	if err != nil {
		return err
	}
	if known := newest(p); have > known {
		return fmt.Errorf("its schema is version %d, newer than this spallocd knows (version %d): "+
			"it was used by a newer spallocd; run that one (or newer), or restore a backup taken before the upgrade", have, known)
	}
	return nil
}
