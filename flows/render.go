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
	var b strings.Builder
	b.WriteString(r.Text)
	if len(r.Choices) == 0 {
		return b.String()
	}
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

// numeric reports whether every label is a whole number.
func numeric(cs []Choice) bool {
	for _, c := range cs {
		if _, err := strconv.Atoi(c.Label); err != nil {
			return false
		}
	}
	return true
}
