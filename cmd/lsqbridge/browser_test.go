package main

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lsqbridge/lsqbridge/service"
)

// screenshotPath is where the browser test leaves its picture of the agent
// page; the README shows it.
var screenshotPath = filepath.Join("..", "..", "docs", "img", "opportunity-form.png")

// TestBrowserOpportunityFormFixBadDateAndSubmit drives the agent page in
// headless Chromium as an agent would: open the signed link, see the
// pre-filled values, submit, see the check-in date refused next to its
// field, fix it, submit again, see the created opportunity.
func TestBrowserOpportunityFormFixBadDateAndSubmit(t *testing.T) {
	t.Parallel()
	b := startBrowser(t, 640, 980)
	w := newWorld(t)
	tk := w.customerTicket(service.Contact{Name: "Priya Shah", Email: "priya@example.com", Phone: "+919876543210",
		CustomAttributes: map[string]any{"city": "Pune"}},
		map[string]any{"check_in": "20/12/2026", "check_out": "2026-12-24"}, "asha@acme.test")

	a := w.call(http.MethodGet, formPath(tk.ID)+"/link", map[string]string{"X-Lsqbridge-App-Key": w.Creds.App}, nil)
	var link struct{ URL string }
	a.decode(t, &link)
	if a.status != http.StatusOK || link.URL == "" {
		t.Fatalf("signed link: %d %s", a.status, a.body)
	}
	b.open(link.URL)

	prefilled := map[string]string{"#f-mx_Custom_1": "Priya Shah", "#f-Status": "Open", "#f-mx_Custom_3": "Pune",
		"#f-mx_Custom_4": "20/12/2026", "#f-mx_Custom_5": "2026-12-24", "#f-mx_Custom_6": ""}
	for css, want := range prefilled {
		if got := b.property(b.must(css), "value"); got != want {
			t.Errorf("%s shows %q, want the pre-filled %q", css, got, want)
		}
	}
	checkIn := b.must("#f-mx_Custom_4")
	if p := b.attribute(checkIn, "placeholder"); p != "YYYY-MM-DD" {
		t.Errorf("check-in placeholder %q, want YYYY-MM-DD", p)
	}
	if b.find("#f-Owner") != "" {
		t.Error("the page shows an Owner field; the owner is the ticket's agent")
	}

	b.click(b.must("#submit"))
	dateErr := b.must("#err-mx_Custom_4")
	b.waitFor("the check-in error next to its field", 30*time.Second, func() bool { return b.displayed(dateErr) })
	if msg := b.text(dateErr); !strings.Contains(msg, "Check-in") || !strings.Contains(msg, "YYYY-MM-DD") {
		t.Errorf("check-in error %q, want it to name the field and the format", msg)
	}
	if b.property(checkIn, "ariaInvalid") != "true" {
		t.Error("the check-in input is not marked invalid")
	}
	if n := len(w.LSQ.Opportunities()); n != 0 {
		t.Fatalf("%d opportunities after a refused submit", n)
	}

	b.clear(checkIn)
	b.sendKeys(checkIn, "2026-12-20")
	b.click(b.must("#submit"))
	success := b.must("#success")
	b.waitFor("the success message", 30*time.Second, func() bool { return b.displayed(success) })
	opps := w.LSQ.Opportunities()
	if len(opps) != 1 {
		t.Fatalf("%d opportunities, want 1", len(opps))
	}
	if got := b.text(b.must("#opportunity-id")); got != opps[0].ID {
		t.Errorf("the page shows opportunity %q, LeadSquared has %q", got, opps[0].ID)
	}
	if !strings.Contains(b.text(success), "linked to ticket #") {
		t.Errorf("success message %q, want it to name the ticket", b.text(success))
	}
	if b.displayed(dateErr) {
		t.Error("the fixed date still shows its error")
	}
	if opps[0].Field("mx_Custom_4") != "2026-12-20" || opps[0].OwnerID != w.Users["asha@acme.test"].ID {
		t.Errorf("opportunity %+v: want the fixed check-in and Asha as owner", opps[0].Fields)
	}

	png := b.screenshot()
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatal("the screenshot is not a PNG")
	}
	if err := os.MkdirAll(filepath.Dir(screenshotPath), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(screenshotPath, png, 0o644); err != nil {
		t.Fatal(err)
	}
	w.settle()
}
