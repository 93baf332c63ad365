package limechat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/limechat")

const fixtureDir = "../../testdata/limechat"

// fixtureSecret signed testdata/limechat/signed_delivery.json.
var fixtureSecret = []byte("fixture-signing-secret")

// fixture is one webhook delivery from testdata: the body file and, when a
// NAME.headers file exists, its headers.
type fixture struct {
	name   string
	header http.Header
	body   []byte
}

func loadFixtures(t testing.TB) []fixture {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []fixture
	for _, p := range paths {
		if strings.HasSuffix(p, ".golden.json") {
			continue
		}
		body, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		header := http.Header{}
		if raw, err := os.ReadFile(filepath.Join(fixtureDir, name+".headers")); err == nil {
			mh, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(raw, '\n')))).ReadMIMEHeader()
			if err != nil {
				t.Fatalf("%s.headers: %v", name, err)
			}
			header = http.Header(mh)
		}
		out = append(out, fixture{name: name, header: header, body: body})
	}
	if len(out) == 0 {
		t.Fatal("no fixtures found")
	}
	return out
}

// TestWebhookGolden parses every fixture and compares the normalized events
// with NAME.golden.json. Run with -update to rewrite the golden files.
func TestWebhookGolden(t *testing.T) {
	t.Parallel()
	for _, fx := range loadFixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			t.Parallel()
			events, err := ParseWebhook(fx.header, fx.body)
			result := struct {
				Events []service.Event
				Error  string `json:",omitempty"`
			}{Events: events}
			if err != nil {
				result.Error = err.Error()
			}
			got, err := json.MarshalIndent(result, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join(fixtureDir, fx.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the golden file:\n got %s\nwant %s", fx.name, got, want)
			}
		})
	}
}

func TestSignedFixtureVerifies(t *testing.T) {
	t.Parallel()
	for _, fx := range loadFixtures(t) {
		if fx.header.Get(HeaderSignature) == "" {
			continue
		}
		now := time.Unix(1717243801, 0)
		if err := VerifySignature(fixtureSecret, fx.header, fx.body, now, time.Minute); err != nil {
			t.Errorf("%s: %v", fx.name, err)
		}
		if err := VerifySignature([]byte("wrong"), fx.header, fx.body, now, time.Minute); err == nil {
			t.Errorf("%s verifies with the wrong secret", fx.name)
		}
		if err := VerifySignature(fixtureSecret, fx.header, fx.body, now.Add(time.Hour), time.Minute); err == nil {
			t.Errorf("%s verifies an hour later", fx.name)
		}
	}
}
