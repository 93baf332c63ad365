package service

import (
	"errors"
	"fmt"
	"strings"
)

// Phone numbers reach lsqbridge in every shape: LeadSquared stores
// "+91-9988776655", LimeChat "+919988776655", people type "09988776655" or
// "9988776655". They are read once, here, into the digits of the full
// international number, the same way for LimeChat contacts, LeadSquared
// lead look-ups and creates, and Flow-builder events; phone.default_country_code
// supplies the country code a national number lacks.

// ErrNoCountryCode is wrapped when a national number cannot be completed
// because the integration has no phone.default_country_code.
var ErrNoCountryCode = errors.New("the number has no country code and phone.default_country_code is not set")

// maxNationalDigits is the longest number read as national (without its
// country code) when it has no "+" or "00": India's and most national
// numbers are at most 10 digits. Longer ones are taken to start with their
// country code (919876543210).
const maxNationalDigits = 10

// PhoneDigits returns the digits of raw's full international number
// ("919876543210"): a number written with "+" or "00" keeps its own country
// code; a national one (at most 10 digits once a leading trunk 0 is
// dropped) gets countryCode. "" with a nil error when raw has no digits.
func PhoneDigits(raw, countryCode string) (string, error) {
	raw = strings.TrimSpace(raw)
	d := digits(raw)
	if d == "" {
		return "", nil
	}
	international := strings.HasPrefix(raw, "+")
	if !international && strings.HasPrefix(d, "00") {
		d, international = d[2:], true
	}
	if !international {
		national := strings.TrimLeft(d, "0")
		if len(national) <= maxNationalDigits {
			cc := digits(countryCode)
			if cc == "" {
				return "", fmt.Errorf("%q: %w", raw, ErrNoCountryCode)
			}
			d = cc + national
		}
	}
	// E.164 allows at most 15 digits; fewer than 8 is no full number.
	if len(d) < 8 || len(d) > 15 {
		return "", fmt.Errorf("%q is not a phone number with its country code (%d digits)", raw, len(d))
	}
	return d, nil
}

// ContactPhone is LimeChat's (Chatwoot's) E.164 form, "+919988776655", of
// any number; "" when it has none or cannot be completed.
func ContactPhone(raw, countryCode string) string {
	d, err := PhoneDigits(raw, countryCode)
	if err != nil || d == "" {
		return ""
	}
	return "+" + d
}

// FlowPhone is the Flow-builder form: the digits with country code, no "+";
// "" when the number has none or cannot be completed.
func FlowPhone(raw, countryCode string) string {
	d, err := PhoneDigits(raw, countryCode)
	if err != nil {
		return ""
	}
	return d
}

// LeadSquaredPhone is the form LeadSquared stores, "+91-9988776655", when
// the number carries the integration's country code (lsqbridge knows where
// it ends), else E.164; "" when it cannot be completed.
func LeadSquaredPhone(raw, countryCode string) string {
	d, err := PhoneDigits(raw, countryCode)
	if err != nil || d == "" {
		return ""
	}
	if cc := digits(countryCode); cc != "" && strings.HasPrefix(d, cc) && len(d)-len(cc) >= 6 {
		return "+" + cc + "-" + d[len(cc):]
	}
	return "+" + d
}

// NationalDigits is the national part of full digits ("919876543210" →
// "9876543210") when they begin with countryCode; "" otherwise. People
// often type a lead's number into LeadSquared without its country code.
func NationalDigits(full, countryCode string) string {
	cc := digits(countryCode)
	if cc == "" || !strings.HasPrefix(full, cc) {
		return ""
	}
	if n := len(full) - len(cc); n < 6 || n > maxNationalDigits {
		return ""
	}
	return full[len(cc):]
}

// digits keeps the ASCII digits of p.
func digits(p string) string {
	var b strings.Builder
	for _, c := range p {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}
