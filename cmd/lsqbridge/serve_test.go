package main

import (
	"strings"
	"testing"

	"github.com/lsqbridge/lsqbridge/db/dbtest"
)

func TestServeRefusesSchemaBehind(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{
		"DATABASE_URL": dbtest.NewEmptyURL(t), "LSQBRIDGE_MASTER_KEY": testMasterKey, "LSQBRIDGE_LISTEN": "127.0.0.1:0",
	}}
	code, _, errs := c.run("serve")
	if code == 0 || !strings.Contains(errs, "lsqbridge migrate up") {
		t.Errorf("serve on an empty database: exit %d, stderr %s", code, errs)
	}
}

func TestServeNamesMissingSettings(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{}}
	code, _, errs := c.run("serve")
	if code == 0 || !strings.Contains(errs, "DATABASE_URL is not set") || !strings.Contains(errs, "LSQBRIDGE_MASTER_KEY is not set") {
		t.Errorf("serve without settings: exit %d, stderr %s", code, errs)
	}
}

func TestMigrateCommands(t *testing.T) {
	t.Parallel()
	c := &cli{t: t, env: map[string]string{"DATABASE_URL": dbtest.NewEmptyURL(t)}}
	if out := c.mustRun("migrate", "up"); !strings.Contains(out, "applied 00001_registry.sql") {
		t.Errorf("migrate up:\n%s", out)
	}
	out := c.mustRun("migrate", "status")
	if strings.Count(out, "applied") < 2 || strings.Contains(out, "pending") {
		t.Errorf("migrate status after up:\n%s", out)
	}
	c.mustRun("migrate", "down", "--to", "0")
	if out := c.mustRun("migrate", "version"); !strings.Contains(out, "database version 0") {
		t.Errorf("version after down to 0:\n%s", out)
	}
	c.mustRun("migrate", "up")
	if code, _, errs := c.run("migrate", "sideways"); code == 0 || !strings.Contains(errs, "unknown migrate command") {
		t.Errorf("unknown subcommand: %d %s", code, errs)
	}
}
