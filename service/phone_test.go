package service

import (
	"errors"
	"testing"
)

func TestPhoneNumbersGetTheDefaultCountryCodeOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw, cc                     string
		contact, flow, leadSquared  string
		noCountryCode, notAPhoneNum bool
	}{
		{raw: "9876543210", cc: "91", contact: "+919876543210", flow: "919876543210", leadSquared: "+91-9876543210"},
		{raw: "09876543210", cc: "91", contact: "+919876543210", flow: "919876543210", leadSquared: "+91-9876543210"},
		{raw: "98765 43210", cc: "+91", contact: "+919876543210", flow: "919876543210", leadSquared: "+91-9876543210"},
		{raw: "+91-9876543210", cc: "91", contact: "+919876543210", flow: "919876543210", leadSquared: "+91-9876543210"},
		{raw: "+919876543210", cc: "", contact: "+919876543210", flow: "919876543210", leadSquared: "+919876543210"},
		{raw: "919876543210", cc: "91", contact: "+919876543210", flow: "919876543210", leadSquared: "+91-9876543210"},
		{raw: "0091 98765 43210", cc: "1", contact: "+919876543210", flow: "919876543210", leadSquared: "+919876543210"},
		{raw: "+44 7911 123456", cc: "91", contact: "+447911123456", flow: "447911123456", leadSquared: "+447911123456"},
		{raw: "07911 123456", cc: "44", contact: "+447911123456", flow: "447911123456", leadSquared: "+44-7911123456"},
		{raw: "9876543210", cc: "", noCountryCode: true},
		{raw: "12345", cc: "91", notAPhoneNum: true},
		{raw: "+1234567890123456", cc: "91", notAPhoneNum: true},
		{raw: "", cc: "91"},
		{raw: "n/a", cc: "91"},
	}
	for _, tt := range tests {
		d, err := PhoneDigits(tt.raw, tt.cc)
		switch {
		case tt.noCountryCode:
			if !errors.Is(err, ErrNoCountryCode) {
				t.Errorf("PhoneDigits(%q, %q) = %q, %v; want ErrNoCountryCode", tt.raw, tt.cc, d, err)
			}
		case tt.notAPhoneNum:
			if err == nil || errors.Is(err, ErrNoCountryCode) {
				t.Errorf("PhoneDigits(%q, %q) = %q, %v; want not a phone number", tt.raw, tt.cc, d, err)
			}
		case err != nil:
			t.Errorf("PhoneDigits(%q, %q): %v", tt.raw, tt.cc, err)
		}
		if got := ContactPhone(tt.raw, tt.cc); got != tt.contact {
			t.Errorf("ContactPhone(%q, %q) = %q, want %q", tt.raw, tt.cc, got, tt.contact)
		}
		if got := FlowPhone(tt.raw, tt.cc); got != tt.flow {
			t.Errorf("FlowPhone(%q, %q) = %q, want %q", tt.raw, tt.cc, got, tt.flow)
		}
		if got := LeadSquaredPhone(tt.raw, tt.cc); got != tt.leadSquared {
			t.Errorf("LeadSquaredPhone(%q, %q) = %q, want %q", tt.raw, tt.cc, got, tt.leadSquared)
		}
	}
}

func TestPhoneNationalDigitsDropOnlyTheDefaultCountryCode(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ full, cc, want string }{
		{"919876543210", "91", "9876543210"},
		{"447911123456", "91", ""},
		{"919876543210", "", ""},
		{"9112345", "91", ""}, // too short to be a national number
	} {
		if got := NationalDigits(tt.full, tt.cc); got != tt.want {
			t.Errorf("NationalDigits(%q, %q) = %q, want %q", tt.full, tt.cc, got, tt.want)
		}
	}
}
