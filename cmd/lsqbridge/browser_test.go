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
// pre-filled values (LimeChat's day-first 20/12/2026 as 2026-12-20, a UTC
// arrival in local time), change Status and see Stage offer that status's
// stages, pick amenities in the multi-select, type a check-out the wrong
// way, submit, see it refused next to its field, fix it, submit again, see
// the created opportunity carry every value in LeadSquared's format.
func TestBrowserOpportunityFormFixBadDateAndSubmit(t *testing.T) {
	t.Parallel()
	b := startBrowser(t, 640, 1240)
	w := newWorld(t)
	tk := w.customerTicket(service.Contact{Name: "Priya Shah", Email: "priya@example.com", Phone: "+919876543210",
		CustomAttributes: map[string]any{"city": "Pune"}},
		map[string]any{"check_in": "20/12/2026", "check_out": "2026-12-24", "arrival": "2026-12-20T09:30:00Z", "amenities": []any{"Spa"}},
		"asha@acme.test")

	a := w.call(http.MethodGet, formPath(tk.ID)+"/link", map[string]string{"X-Lsqbridge-App-Key": w.Creds.App}, nil)
	var link struct{ URL string }
	a.decode(t, &link)
	if a.status != http.StatusOK || link.URL == "" {
		t.Fatalf("signed link: %d %s", a.status, a.body)
	}
	b.open(link.URL)

	prefilled := map[string]string{"#f-mx_Custom_1": "Priya Shah", "#f-Status": "Open", "#f-mx_Custom_3": "Pune",
		"#f-mx_Custom_4": "2026-12-20", "#f-mx_Custom_5": "2026-12-24", "#f-mx_Custom_6": "",
		"#f-mx_Custom_9": "2026-12-20 15:00"} // 09:30 UTC in India
	for css, want := range prefilled {
		if got := b.property(b.must(css), "value"); got != want {
			t.Errorf("%s shows %q, want the pre-filled %q", css, got, want)
		}
	}
	checkIn, checkOut := b.must("#f-mx_Custom_4"), b.must("#f-mx_Custom_5")
	if p := b.attribute(checkIn, "placeholder"); p != "YYYY-MM-DD" {
		t.Errorf("check-in placeholder %q, want YYYY-MM-DD", p)
	}
	if hint := b.text(b.must("#hint-mx_Custom_9")); !strings.Contains(hint, "local time") || !strings.Contains(hint, "UTC+05:30") {
		t.Errorf("arrival hint %q, want it to say local time and the offset", hint)
	}
	if b.find("#f-Owner") != "" {
		t.Error("the page shows an Owner field; the owner is the ticket's agent")
	}

	// Stage offers the stages of the chosen Status, and follows it.
	stage := b.must("#f-mx_Custom_2")
	options := func() string { return strings.Join(strings.Fields(b.property(stage, "innerText")), " ") }
	if got := options(); got != "— choose — New Reachable Qualified" {
		t.Errorf("Stage offers %q for Status Open", got)
	}
	b.click(b.must(`#f-Status option[value="Won"]`))
	b.waitFor("Stage to offer Won's stages", 30*time.Second, func() bool { return options() == "— choose — Booked" })
	b.click(b.must(`#f-mx_Custom_2 option[value="Booked"]`))

	// Amenities: Spa came pre-filled; the agent adds Pool.
	if !b.selected(b.must(`#f-mx_Custom_8 option[value="Spa"]`)) {
		t.Error("the pre-filled amenity Spa is not selected")
	}
	b.click(b.must(`#f-mx_Custom_8 option[value="Pool"]`))

	arrival := b.must("#f-mx_Custom_9")
	b.clear(arrival)
	b.sendKeys(arrival, "2026-12-21 18:45")
	b.clear(checkOut)
	b.sendKeys(checkOut, "24/12/2026")

	b.click(b.must("#submit"))
	dateErr := b.must("#err-mx_Custom_5")
	b.waitFor("the check-out error next to its field", 30*time.Second, func() bool { return b.displayed(dateErr) })
	if msg := b.text(dateErr); !strings.Contains(msg, "Check-out") || !strings.Contains(msg, "YYYY-MM-DD") {
		t.Errorf("check-out error %q, want it to name the field and the format", msg)
	}
	if b.property(checkOut, "ariaInvalid") != "true" {
		t.Error("the check-out input is not marked invalid")
	}
	if n := len(w.LSQ.Opportunities()); n != 0 {
		t.Fatalf("%d opportunities after a refused submit", n)
	}

	b.clear(checkOut)
	b.sendKeys(checkOut, "2026-12-24")
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
	want := map[string]string{"mx_Custom_4": "2026-12-20", "mx_Custom_5": "2026-12-24", "Status": "Won", "mx_Custom_2": "Booked",
		"mx_Custom_8": "Pool;Spa", "mx_Custom_9": "2026-12-21 13:15:00"}
	for f, v := range want {
		if got := opps[0].Field(f); got != v {
			t.Errorf("opportunity %s = %q, want %q", f, got, v)
		}
	}
	if opps[0].OwnerID != w.Users["asha@acme.test"].ID {
		t.Errorf("opportunity owner %s, want Asha", opps[0].OwnerID)
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
