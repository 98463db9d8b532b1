package flows

import (
	"strconv"
	"strings"
)

// PlainText renders a reply as plain text, the way the terminal console shows it: the text,
// then the choices as a numbered list, one per line ("  1) Anxious"). Choices whose labels
// are themselves numbers (a 0–10 rating) go on one line instead, since numbering numbers
// would only confuse.
func PlainText(r Reply) string {
	if len(r.Choices) == 0 {
		return r.Text
	}
	var b strings.Builder
	n := len(r.Text)
	for _, c := range r.Choices {
		n += len(c.Label) + 8
	}
	b.Grow(n)
	b.WriteString(r.Text)
	if numeric(r.Choices) {
		b.WriteString("\n ")
		for _, c := range r.Choices {
			b.WriteString(" ")
			b.WriteString(c.Label)
		}
		return b.String()
	}
	for i, c := range r.Choices {
		b.WriteString("\n  ")
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(") ")
		b.WriteString(c.Label)
	}
	return b.String()
}

// numeric reports whether every label is a whole number (strconv.Atoi takes it). A label
// with anything but digits and signs is refused before Atoi, whose error for it would be
// an allocation on every DM with buttons.
func numeric(cs []Choice) bool {
	for _, c := range cs {
		if strings.Trim(c.Label, "0123456789+-") != "" {
			return false
		}
		if _, err := strconv.Atoi(c.Label); err != nil {
			return false
		}
	}
	return true
}
