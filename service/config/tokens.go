package config

import (
	"fmt"
	"regexp"
	"strconv"
)

// AdminToken is one named bearer token of the HTTP admin API
// ([[admin_token]]): whoever holds the token in File acts as Name, and
// every change they make is recorded with that name.
type AdminToken struct {
	Name string
	File string // resolved against the configuration's folder
}

// NamedToken is an admin token read from its file.
type NamedToken struct {
	Name  string
	Token string
}

// UnnamedTokenName is the name [server] admin_token_file's token acts
// under: the one token of a server that names none.
const UnnamedTokenName = "operator"

// ServerActorName is reserved for what the server does by itself (a board
// taken out of service after problem reports): no token may take it.
const ServerActorName = "server"

// MaxAdminTokens bounds the [[admin_token]] entries of a file.
const MaxAdminTokens = 100

type rawAdminToken struct {
	Name *string `toml:"name"`
	File *string `toml:"file"`
}

// tokenName is the form of a token's name: it appears in logs, in the
// history of jobs and boards and as an audit filter in URLs.
var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,` + strconv.Itoa(maxNameLen-1) + `}$`)

// resolveAdminTokens checks the [[admin_token]] entries: each has a usable,
// unique name and a readable, non-empty token file, and no two tokens
// (admin_token_file's included) are the same, so that a token always tells
// who acted.
func resolveAdminTokens(p *problems, raw []rawAdminToken, server ServerSettings, dir string) []AdminToken {
	if len(raw) > MaxAdminTokens {
		p.section("admin_token").addf("", "%d tokens, more than the %d allowed", len(raw), MaxAdminTokens)
		return nil
	}
	var out []AdminToken
	owners := map[string]string{} // token -> name of its first holder
	names := map[string]bool{}
	if server.AdminTokenFile != "" {
		names[UnnamedTokenName] = true
		if tok, err := ReadAdminToken(server.AdminTokenFile); err == nil {
			owners[tok] = "server.admin_token_file"
		}
	}
	for i, r := range raw {
		rep := p.section(fmt.Sprintf("admin_token[%d]", i+1))
		name, file := tokenEntry(rep, r)
		if name == "" || file == "" {
			continue
		}
		switch {
		case names[name] && name == UnnamedTokenName:
			rep.addf("name", "%q is the name of server.admin_token_file's token; give this one another name", name)
		case names[name]:
			rep.addf("name", "%q is the name of an earlier token; each operator needs a name of their own", name)
		case name == ServerActorName:
			rep.addf("name", "%q is reserved for what the server does by itself", name)
		}
		names[name] = true
		file = resolvePath(dir, file)
		tok, err := ReadAdminToken(file)
		if err != nil {
			rep.addf("file", "%v", err)
			continue
		}
		warnIfWorldReadable(rep, "file", file)
		if first, ok := owners[tok]; ok {
			rep.addf("file", "holds the same token as %s: each operator needs a token of their own", first)
			continue
		}
		owners[tok] = fmt.Sprintf("admin_token[%d] (%s)", i+1, name)
		out = append(out, AdminToken{Name: name, File: file})
	}
	return out
}

// tokenEntry returns an entry's name and file ("" where missing or
// unusable, which it reports).
func tokenEntry(rep reporter, r rawAdminToken) (name, file string) {
	switch {
	case r.Name == nil:
		rep.addf("name", "every admin token needs a name (who acts with it)")
	case !tokenName.MatchString(*r.Name):
		rep.addf("name", "%s is not a usable token name: use 1 to %d letters, digits, '.', '_', '@' or '-', "+
			"starting with a letter or a digit", shorten(*r.Name), maxNameLen)
	default:
		name = *r.Name
	}
	switch {
	case r.File == nil:
		rep.addf("file", "every admin token needs a file that holds it")
	case *r.File == "":
		rep.addf("file", "must name a file")
	default:
		file = *r.File
	}
	return name, file
}

// ReadAdminTokens reads every admin token of the configuration: the one
// of [server] admin_token_file (named UnnamedTokenName) and those of
// [[admin_token]]. None means HTTP mutations are disabled.
func (c *Config) ReadAdminTokens() ([]NamedToken, error) {
	var out []NamedToken
	if tok, err := c.Server.AdminToken(); err != nil {
		return nil, err
	} else if tok != "" {
		out = append(out, NamedToken{Name: UnnamedTokenName, Token: tok})
	}
	for _, t := range c.AdminTokens {
		tok, err := ReadAdminToken(t.File)
		if err != nil {
			return nil, fmt.Errorf("admin token %s: %w", t.Name, err)
		}
		out = append(out, NamedToken{Name: t.Name, Token: tok})
	}
	return out, nil
}
