package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strings"

	"github.com/wgpanel/wgpanel/internal/auth"
)

// minPassword is the shortest web password passwd accepts.
const minPassword = 8

// passwd reads a new web password from standard input, stores its hash and
// switches the web login to it.
func (g *globals) passwd(ctx context.Context, args []string) error {
	if _, err := g.parse("passwd", flag.NewFlagSet("passwd", flag.ContinueOnError), args); err != nil {
		return err
	}
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("no password on standard input: echo 'new password' | wgpanel passwd")
	}
	pw := strings.TrimRight(line, "\r\n")
	if len([]rune(pw)) < minPassword {
		return fmt.Errorf("the password is too short: use at least %d characters", minPassword)
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return err
	}
	e, err := g.open(slog.LevelWarn)
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
	fmt.Fprintln(g.stdout, "password set; the web UI now asks for it (restart wgpanel if it runs with the router's root password)")
	return nil
}
