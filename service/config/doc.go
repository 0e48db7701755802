// Package config owns spallocd's declarative TOML configuration
// (docs/configuration.md): the [server] and [bmp] settings and the machines, resolved
// into complete, validated values that the rest of the server can use as they
// are (every working board with its position and IP, every BMP address).
//
// It reads the configuration file and the files it names (SpiNNer CSVs, the
// admin token) and nothing else: no network, no database, no BMPs. It imports
// no package of ours except service/geometry. Deciding what a reload means for
// running jobs belongs to the service; this package only classifies how a
// machine changed (Compare).
package config
