package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// A tiny W3C WebDriver client, enough to drive headless Chromium through
// chromedriver from a test: sessions, navigation, elements, keys, clicks,
// text and screenshots. https://www.w3.org/TR/webdriver2/

// elementKey is the W3C key of an element reference in JSON.
const elementKey = "element-6066-11e4-a52e-4f735466cecf"

// browserTimezone is the time zone Chromium runs in.
const browserTimezone = "Asia/Kolkata"

// browser is one WebDriver session in headless Chromium.
type browser struct {
	t       *testing.T
	base    string // chromedriver's URL
	session string
	client  *http.Client
}

// chromium finds Chromium and chromedriver, failing the test (never
// skipping it) with how to install them when either is missing.
func chromium(t *testing.T) (browserPath, driverPath string) {
	t.Helper()
	const how = "install them with `bash .ci/ensure-chromium` (Debian: apt-get install -y chromium chromium-driver)"
	driverPath, err := exec.LookPath("chromedriver")
	if err != nil {
		t.Fatalf("the browser test needs chromedriver on PATH, and it is missing: %s", how)
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, driverPath
		}
	}
	t.Fatalf("the browser test needs Chromium on PATH, and it is missing: %s", how)
	return "", ""
}

var driverPort = regexp.MustCompile(`started successfully on port (\d+)`)

// startBrowser starts chromedriver on a free port and opens a headless
// Chromium session with a fresh profile; both end with the test.
func startBrowser(t *testing.T, width, height int) *browser {
	t.Helper()
	browserPath, driverPath := chromium(t)
	cmd := exec.Command(driverPath, "--port=0")
	// The agent's clock: the page shows date-times in local time, so the
	// browser runs in India's zone (no daylight saving) whatever the host's.
	cmd.Env = append(os.Environ(), "TZ="+browserTimezone)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromedriver: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := driverPort.FindStringSubmatch(sc.Text()); m != nil {
				port <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	b := &browser{t: t, client: &http.Client{Timeout: 60 * time.Second}}
	select {
	case p := <-port:
		b.base = "http://127.0.0.1:" + p
	case <-time.After(30 * time.Second):
		t.Fatal("chromedriver did not say which port it listens on within 30s")
	}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	b.do(http.MethodPost, "/session", map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName": "chrome",
		"goog:chromeOptions": map[string]any{
			"binary": browserPath,
			"args": []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
				"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
				"--user-data-dir=" + t.TempDir(), fmt.Sprintf("--window-size=%d,%d", width, height)},
		},
	}}}, &created)
	if created.SessionID == "" {
		t.Fatal("chromedriver created no session")
	}
	b.session = "/session/" + created.SessionID
	t.Cleanup(func() { b.do(http.MethodDelete, b.session, nil, nil) })
	return b
}

// webDriverError is a W3C error answer.
type webDriverError struct {
	Code    string `json:"error"`
	Message string `json:"message"`
}

func (e *webDriverError) Error() string { return e.Code + ": " + e.Message }

// call sends one command and decodes its "value" into out; a W3C error is
// returned as *webDriverError.
func (b *browser) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		j, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var env struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		return fmt.Errorf("%s %s: HTTP %d, undecodable answer: %w", method, path, resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		var we webDriverError
		_ = json.Unmarshal(env.Value, &we)
		return &we
	}
	if out != nil {
		return json.Unmarshal(env.Value, out)
	}
	return nil
}

// do is call that fails the test on error.
func (b *browser) do(method, path string, in, out any) {
	b.t.Helper()
	if err := b.call(method, path, in, out); err != nil {
		b.t.Fatalf("webdriver %s %s: %v", method, path, err)
	}
}

// open navigates to url and waits for the page to load.
func (b *browser) open(url string) {
	b.t.Helper()
	b.do(http.MethodPost, b.session+"/url", map[string]string{"url": url}, nil)
}

// find returns the element matching a CSS selector, "" when none does.
func (b *browser) find(css string) string {
	b.t.Helper()
	var ref map[string]string
	err := b.call(http.MethodPost, b.session+"/element", map[string]string{"using": "css selector", "value": css}, &ref)
	if we, ok := err.(*webDriverError); ok && we.Code == "no such element" {
		return ""
	}
	if err != nil {
		b.t.Fatalf("find %s: %v", css, err)
	}
	return ref[elementKey]
}

// must returns the element matching css, failing when there is none.
func (b *browser) must(css string) string {
	b.t.Helper()
	el := b.find(css)
	if el == "" {
		b.t.Fatalf("no element %s on the page", css)
	}
	return el
}

func (b *browser) property(el, name string) string {
	b.t.Helper()
	var v any
	b.do(http.MethodGet, b.session+"/element/"+el+"/property/"+name, nil, &v)
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func (b *browser) attribute(el, name string) string {
	b.t.Helper()
	var v *string
	b.do(http.MethodGet, b.session+"/element/"+el+"/attribute/"+name, nil, &v)
	if v == nil {
		return ""
	}
	return *v
}

// text is the element's rendered text ("" when it is hidden).
func (b *browser) text(el string) string {
	b.t.Helper()
	var s string
	b.do(http.MethodGet, b.session+"/element/"+el+"/text", nil, &s)
	return s
}

func (b *browser) displayed(el string) bool {
	b.t.Helper()
	var v bool
	b.do(http.MethodGet, b.session+"/element/"+el+"/displayed", nil, &v)
	return v
}

// selected reports whether an option (or checkbox) is selected.
func (b *browser) selected(el string) bool {
	b.t.Helper()
	var v bool
	b.do(http.MethodGet, b.session+"/element/"+el+"/selected", nil, &v)
	return v
}

func (b *browser) clear(el string) {
	b.t.Helper()
	b.do(http.MethodPost, b.session+"/element/"+el+"/clear", map[string]any{}, nil)
}

func (b *browser) sendKeys(el, text string) {
	b.t.Helper()
	b.do(http.MethodPost, b.session+"/element/"+el+"/value", map[string]string{"text": text}, nil)
}

func (b *browser) click(el string) {
	b.t.Helper()
	b.do(http.MethodPost, b.session+"/element/"+el+"/click", map[string]any{}, nil)
}

// screenshot returns a PNG of the viewport.
func (b *browser) screenshot() []byte {
	b.t.Helper()
	var s string
	b.do(http.MethodGet, b.session+"/screenshot", nil, &s)
	png, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b.t.Fatalf("decode screenshot: %v", err)
	}
	return png
}

// waitFor polls the page through WebDriver until cond holds, failing the
// test after the deadline with what it waited for.
func (b *browser) waitFor(what string, within time.Duration, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("waited %s for %s", within, what)
		}
	}
}
