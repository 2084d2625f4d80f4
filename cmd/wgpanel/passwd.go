package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/wgpanel/wgpanel/internal/auth"
)

// minPassword is the shortest web password passwd accepts.
const minPassword = 8

// passwd sets a new web password, stores its hash and switches the web
// login to it. On a terminal it asks twice without echo; otherwise it reads
// one line from standard input (echo 'new password' | wgpanel passwd).
func (g *globals) passwd(ctx context.Context, args []string) error {
	if _, err := g.parse("passwd", flag.NewFlagSet("passwd", flag.ContinueOnError), args); err != nil {
		return err
	}
	pw, err := g.readPassword()
	if err != nil {
		return err
	}
	if len([]rune(pw)) < minPassword {
		return fmt.Errorf("the password is too short: use at least %d characters", minPassword)
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	e, err := g.openToWrite()
	if err != nil {
		return err
	}
	defer e.Close()
	if err := e.store.SetPasswordHash(ctx, hash); err != nil {
		return err
	}
	if err := e.store.SetSetting(ctx, "auth", auth.ModePassword); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "password set in %s; the web UI now asks for it (restart wgpanel if it runs with the router's root password)\n", e.dir)
	return nil
}

// readPassword asks on the terminal, twice and without echo, when standard
// input is one; else it reads a line.
func (g *globals) readPassword() (string, error) {
	if f, ok := g.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		fmt.Fprint(g.stderr, "New web password: ")
		pw, err := term.ReadPassword(fd)
		fmt.Fprintln(g.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		fmt.Fprint(g.stderr, "The same again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(g.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if string(pw) != string(again) {
			return "", errors.New("the two passwords differ; nothing was changed")
		}
		return string(pw), nil
	}
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("no password on standard input: echo 'new password' | wgpanel passwd")
	}
	return strings.TrimRight(line, "\r\n"), nil
}
