// Package migrations holds the goose SQL migrations of the spallocd schema,
// embedded in the binary so that every start applies them.
//
// Migrations are append-only once released: change the schema by adding a
// numbered file, never by editing an applied one.
package migrations

import "embed"

// FS holds every *.sql migration in this folder.
//
//go:embed *.sql
var FS embed.FS
