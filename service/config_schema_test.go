package service

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/invopop/jsonschema"
	sjs "github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// The JSON Schema of the integration YAML is generated from the config
// types, so it cannot drift from what `integration apply` reads:
//
//	go test ./service -run TestIntegrationSchemaIsGenerated -update-schema
//
// rewrites docs/integration.schema.json (`make generate` does it too).
var updateSchema = flag.Bool("update-schema", false, "rewrite docs/integration.schema.json from the config types")

const schemaPath = "../docs/integration.schema.json"

// integrationSchema reflects IntegrationConfig through its yaml names,
// with the types' doc comments as descriptions.
func integrationSchema(t *testing.T) []byte {
	t.Helper()
	r := &jsonschema.Reflector{
		FieldNameTag:               "yaml",
		RequiredFromJSONSchemaTags: true,
		Mapper: func(ty reflect.Type) *jsonschema.Schema {
			switch ty {
			case reflect.TypeOf(Duration(0)):
				return &jsonschema.Schema{Type: "string", Pattern: `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`,
					Description: "A duration such as 24h, 90m or 1h30m.", Examples: []any{"24h"}}
			case reflect.TypeOf(RecordKind("")):
				return &jsonschema.Schema{Type: "string", Enum: []any{string(KindLead), string(KindOpportunity)}}
			}
			return nil
		},
	}
	if err := r.AddGoComments("github.com/lsqbridge/lsqbridge/service", "."); err != nil {
		t.Fatal(err)
	}
	s := r.Reflect(&IntegrationConfig{})
	s.ID = "https://github.com/lsqbridge/lsqbridge/docs/integration.schema.json"
	s.Title = "lsqbridge integration"
	s.Description = "One customer's integration file, applied with `lsqbridge integration apply -f FILE` " +
		"(check it offline with `lsqbridge integration validate -f FILE`). Generated from the Go config types; do not edit."
	markSecrets(t, s, reflect.TypeOf(IntegrationConfig{}))
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// markSecrets gives every secret:"true" field the ${ENV} reference pattern.
func markSecrets(t *testing.T, s *jsonschema.Schema, ty reflect.Type) {
	for i := range ty.NumField() {
		f := ty.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration(0)) {
			markSecrets(t, s, f.Type)
		}
		if f.Tag.Get("secret") != "true" {
			continue
		}
		def, ok := s.Definitions[ty.Name()]
		if !ok {
			t.Fatalf("no definition %s in the schema", ty.Name())
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		p, ok := def.Properties.Get(name)
		if !ok {
			t.Fatalf("no property %s.%s in the schema", ty.Name(), name)
		}
		p.Pattern = envRef.String()
		p.Description = strings.TrimSpace(p.Description + " A secret: only a ${ENV} reference, resolved when the file is applied.")
	}
}

func TestIntegrationSchemaIsGenerated(t *testing.T) {
	got := integrationSchema(t)
	if *updateSchema {
		if err := os.WriteFile(schemaPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/integration.schema.json differs from what the config types generate; run `make generate`" +
			" (go test ./service -run TestIntegrationSchemaIsGenerated -update-schema) and commit it")
	}
}

// compileSchema loads the committed schema into a JSON Schema validator.
func compileSchema(t *testing.T) *sjs.Schema {
	t.Helper()
	f, err := os.Open(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := sjs.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := sjs.NewCompiler()
	if err := c.AddResource("integration.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("integration.schema.json")
	if err != nil {
		t.Fatalf("the schema does not compile: %v", err)
	}
	return s
}

// yamlAsJSON reads YAML into the JSON data model a schema validates.
func yamlAsJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sjs.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// schemaProblems lists the instance locations the schema refuses.
func schemaProblems(err error) []string {
	var out []string
	var walk func(e *sjs.ValidationError)
	walk = func(e *sjs.ValidationError) {
		if len(e.Causes) == 0 {
			out = append(out, "/"+strings.Join(e.InstanceLocation, "/"))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	if ve, ok := err.(*sjs.ValidationError); ok {
		walk(ve)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestIntegrationSchemaAcceptsTheExampleAndFlagsMistakes: what editors
// check with the schema agrees with the Go checks on the example and on
// a file with three mistakes.
func TestIntegrationSchemaAcceptsTheExampleAndFlagsMistakes(t *testing.T) {
	t.Parallel()
	s := compileSchema(t)
	example, err := os.ReadFile("../docs/examples/acme.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(example), "# yaml-language-server: $schema=../integration.schema.json\n") {
		t.Error("docs/examples/acme.yaml does not start with the yaml-language-server schema comment")
	}
	if err := s.Validate(yamlAsJSON(t, example)); err != nil {
		t.Errorf("the schema refuses docs/examples/acme.yaml: %v", err)
	}
	if errs := CheckIntegrationConfig(example, false); len(errs) > 0 {
		t.Errorf("CheckIntegrationConfig refuses docs/examples/acme.yaml:\n%v", errs)
	}

	bad, err := os.ReadFile(filepath.Join("..", "testdata", "config", "three-mistakes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/campaigns/1/record", "/field_tags/1", "/leadsquared/requests_per_5s"}
	err = s.Validate(yamlAsJSON(t, bad))
	if got := schemaProblems(err); !slices.Equal(got, want) {
		t.Errorf("the schema flags %v in three-mistakes.yaml, want %v (%v)", got, want, err)
	}
	var paths []string
	for _, e := range CheckIntegrationConfig(bad, false) {
		paths = append(paths, e.Path)
	}
	slices.Sort(paths)
	if wantPaths := []string{"campaigns[1].record", "field_tags[1].colour", "leadsquared.requests_per_5s"}; !slices.Equal(paths, wantPaths) {
		t.Errorf("CheckIntegrationConfig reports %v, want %v", paths, wantPaths)
	}
}

func TestCheckIntegrationConfigNamesEveryProblem(t *testing.T) {
	t.Parallel()
	example, err := os.ReadFile("../docs/examples/acme.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(pairs ...string) []byte {
		s := string(example)
		for i := 0; i < len(pairs); i += 2 {
			if !strings.Contains(s, pairs[i]) {
				t.Fatalf("the example has no %q", pairs[i])
			}
			s = strings.Replace(s, pairs[i], pairs[i+1], 1)
		}
		return []byte(s)
	}
	tests := []struct {
		name string
		file []byte
		want []string
	}{
		{"a word for a number", edit("account_id: 4711", "account_id: many"),
			[]string{`limechat.account_id: must be a whole number (got "many")`}},
		{"a word for a boolean", edit("opportunities: true", "opportunities: sure"),
			[]string{`sync.opportunities: must be true or false (got "sure")`}},
		{"a mapping for a value", edit("  host: api-in21.leadsquared.com", "  host:\n    name: x"),
			[]string{"leadsquared.host: must be a single value, not a mapping"}},
		{"a value for a list", edit("initial_labels: [leadsquared]", "initial_labels: leadsquared"),
			[]string{`sync.initial_labels: must be a list, not a value ("leadsquared")`}},
		{"a bad duration", edit("page_link_ttl: 24h", "page_link_ttl: a day"),
			[]string{`form.page_link_ttl: not a duration like 24h: "a day"`}},
		{"a secret in clear", edit("${ACME_LSQ_SECRET_KEY}", "s3cr3t"),
			[]string{"leadsquared.secret_key: secrets must be ${ENV} references, never written in the file"}},
		{"an unknown key and a bad value and a missing one", edit("name: Acme Holidays", "nam: Acme Holidays", "requests_per_5s: 5", "requests_per_5s: 500"),
			[]string{"nam: unknown key", "name: required", "leadsquared.requests_per_5s: must be between 1 and 100 (your plan's limit; Pro is 5)"}},
		{"not YAML", []byte("id: [acme"), []string{"(file): not YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			errs := CheckIntegrationConfig(tt.file, false)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(errs), len(tt.want), errs)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), w) {
					t.Errorf("problem %d = %q, want %q", i, errs[i].Error(), w)
				}
			}
		})
	}
}
