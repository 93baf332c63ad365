package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/lsqbridge/lsqbridge/service"
)

// integrationValidate handles `integration validate -f FILE`: the file is
// checked offline (no database, no environment, no platform) and every
// problem is printed with its key path, not only the first.
func integrationValidate(e *env, file string) error {
	if file == "" {
		return errors.New("validate needs -f FILE")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	problems := service.CheckIntegrationConfig(data, e.cfg.AllowLoopback)
	if len(problems) == 0 {
		fmt.Fprintf(e.stdout, "%s: valid (secrets are ${ENV} references, resolved by `integration apply`;"+
			" rule fields are checked against LeadSquared there too)\n", file)
		return nil
	}
	for _, p := range problems {
		fmt.Fprintf(e.stdout, "%s: %s\n", file, p)
	}
	word := "problems"
	if len(problems) == 1 {
		word = "problem"
	}
	return fmt.Errorf("%s: %d %s", file, len(problems), word)
}
