package service

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"

	"gopkg.in/yaml.v3"
)

// CheckIntegrationConfig checks an integration file offline, as far as it
// can be checked without the environment and the platforms, and returns
// every problem it finds with its key path: unknown keys, values of the
// wrong type, secrets written in clear instead of ${ENV} references,
// missing or bad values, rules that would undo each other. It does not
// resolve the secrets' variables nor read LeadSquared's field metadata
// (`integration apply` does both). A file that is not YAML at all gives
// one problem. allowLoopback accepts platform URLs on loopback addresses,
// as `integration apply` does with LSQBRIDGE_ALLOW_LOOPBACK.
func CheckIntegrationConfig(data []byte, allowLoopback bool) ConfigErrors {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return ConfigErrors{{Path: "(file)", Msg: fmt.Sprintf("not YAML: %v", err)}}
	}
	if len(root.Content) == 0 {
		return ConfigErrors{{Path: "(file)", Msg: "the file is empty"}}
	}
	var errs ConfigErrors
	checkKeys(root.Content[0], reflect.TypeOf(IntegrationConfig{}), "", &errs)
	if root.Content[0].Kind != yaml.MappingNode {
		return errs
	}
	// Decode what decodes: checkKeys tried every value with the decoder,
	// so a refusal here is one it reported already, with its path.
	var cfg IntegrationConfig
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&cfg); err != nil && len(errs) == 0 {
		errs = append(errs, &ConfigError{Path: "(file)", Msg: err.Error()})
	}
	cfg.AllowLoopback = allowLoopback
	for _, s := range cfg.secrets() {
		switch {
		case *s.v == "" && s.required:
			errs = append(errs, &ConfigError{Path: s.path, Msg: "required: give a ${ENV} reference"})
		case *s.v != "" && !envRef.MatchString(*s.v):
			errs = append(errs, &ConfigError{Path: s.path, Msg: "secrets must be ${ENV} references, never written in the file"})
		}
	}
	// A value refused above reads as missing to Validate: keep only the
	// first, more precise, problem of a path.
	reported := map[string]bool{}
	for _, e := range errs {
		reported[e.Path] = true
	}
	var verrs ConfigErrors
	if errors.As(cfg.Validate(), &verrs) {
		for _, e := range verrs {
			if !reported[e.Path] {
				errs = append(errs, e)
			}
		}
	}
	return errs
}
