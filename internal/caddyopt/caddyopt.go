// Package caddyopt parses a Caddyfile block from a table of options: each option's name appears once, with
// whether it may be repeated and the function that parses it. An option that takes one value and is given
// twice in a block is an error naming both lines, so a repeat never silently replaces the first value.
package caddyopt

import (
	"slices"
	"sort"
	"strconv"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Option is one option of a block.
type Option[T any] struct {
	// Name is the option's name, its first token on the line.
	Name string
	// Repeatable options (lists, and sub-blocks told apart by name) may be given any number of times.
	Repeatable bool
	// Parse reads the option's arguments (and block) into v; the dispenser is on the option's name.
	Parse func(d *caddyfile.Dispenser, v T) error
}

// Table is the options of one kind of block.
type Table[T any] []Option[T]

// Names returns the table's option names, sorted.
func (t Table[T]) Names() []string {
	names := make([]string, len(t))
	for i, o := range t {
		names[i] = o.Name
	}
	sort.Strings(names)
	return names
}

// Set returns an empty record of the options seen in one block of this table.
func (t Table[T]) Set() *Set {
	s := &Set{first: make(map[string]string)}
	for _, o := range t {
		if o.Repeatable {
			s.repeatable = append(s.repeatable, o.Name)
		}
	}
	return s
}

// Parse reads the block the dispenser is at into v: every line's option is looked up in the table and
// parsed. A line whose option the table does not know goes to other, which may parse it or return an error;
// with other nil it is an "unrecognized <what>subdirective" error. seen records the options given (nil: a
// fresh Set); pass one to share a single-valued option between blocks.
func (t Table[T]) Parse(d *caddyfile.Dispenser, v T, seen *Set, what string, other func(d *caddyfile.Dispenser) error) error {
	if seen == nil {
		seen = t.Set()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		i := slices.IndexFunc(t, func(o Option[T]) bool { return o.Name == name })
		if i < 0 {
			if other == nil {
				return d.Errf("unrecognized %ssubdirective '%s'", what, name)
			}
			if err := other(d); err != nil {
				return err
			}
			continue
		}
		if err := seen.See(d); err != nil {
			return err
		}
		if err := t[i].Parse(d, v); err != nil {
			return err
		}
	}
	return nil
}

// Set records the options given in one Caddyfile block.
type Set struct {
	repeatable []string
	// first maps an option to the file:line of its first use.
	first map[string]string
}

// See records the option the dispenser is on; a second use of a single-valued option is an error naming
// both places.
func (s *Set) See(d *caddyfile.Dispenser) error {
	name := d.Val()
	if slices.Contains(s.repeatable, name) {
		return nil
	}
	if at, dup := s.first[name]; dup {
		return d.Errf("%s already specified at %s: give it once", name, at)
	}
	s.first[name] = d.File() + ":" + strconv.Itoa(d.Line())
	return nil
}

// String reads the option's one argument.
func String(d *caddyfile.Dispenser) (string, error) {
	var v string
	if !d.AllArgs(&v) {
		return "", d.ArgErr()
	}
	return v, nil
}

// Flag checks that the option, a switch, has no argument.
func Flag(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// Int reads the option's one whole-number argument, at least least (0 or 1).
func Int(d *caddyfile.Dispenser, least int) (int, error) {
	name := d.Val()
	var v string
	if !d.AllArgs(&v) {
		return 0, d.ArgErr()
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		return 0, d.Errf("invalid %s '%s': use a whole number", name, v)
	case n < least && least > 0:
		return 0, d.Errf("invalid %s '%s': must be positive (omit it for the default)", name, v)
	case n < least:
		return 0, d.Errf("invalid %s '%s': must not be negative", name, v)
	}
	return n, nil
}
