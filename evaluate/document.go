package evaluate

import (
	"html"
	"strings"
)

// Doc is a report as a list of blocks, rendered both as Markdown (charts
// linked as files) and as one self-contained HTML page (charts inlined), so
// the two never disagree.
type Doc struct {
	Title  string
	blocks []block
}

type block struct {
	kind  byte // 'h' heading, 'p' paragraph, 't' table, 'c' chart
	text  string
	rows  [][]string // table: header first
	file  string     // chart: file name beside the report
	chart string     // chart: SVG
}

// Heading adds a section heading.
func (d *Doc) Heading(s string) { d.blocks = append(d.blocks, block{kind: 'h', text: s}) }

// Para adds a paragraph of plain text; **bold** spans are kept in both
// renderings.
func (d *Doc) Para(s string) { d.blocks = append(d.blocks, block{kind: 'p', text: s}) }

// Table adds a table; the first row is the header.
func (d *Doc) Table(rows [][]string) { d.blocks = append(d.blocks, block{kind: 't', rows: rows}) }

// Chart adds an SVG chart, written beside the report as file.
func (d *Doc) Chart(file, svg string) {
	d.blocks = append(d.blocks, block{kind: 'c', file: file, chart: svg})
}

// Charts returns the charts by file name.
func (d *Doc) Charts() map[string]string {
	m := map[string]string{}
	for _, b := range d.blocks {
		if b.kind == 'c' {
			m[b.file] = b.chart
		}
	}
	return m
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Markdown renders the document; charts are image links to their files.
func (d *Doc) Markdown() string {
	var s strings.Builder
	s.WriteString("# " + d.Title + "\n\n")
	for _, b := range d.blocks {
		switch b.kind {
		case 'h':
			s.WriteString("## " + b.text + "\n\n")
		case 'p':
			s.WriteString(b.text + "\n\n")
		case 't':
			for i, r := range b.rows {
				cells := make([]string, len(r))
				for j, c := range r {
					cells[j] = mdCell(c)
				}
				s.WriteString("| " + strings.Join(cells, " | ") + " |\n")
				if i == 0 {
					s.WriteString(strings.Repeat("|---", len(r)) + "|\n")
				}
			}
			s.WriteString("\n")
		case 'c':
			s.WriteString("![" + strings.TrimSuffix(b.file, ".svg") + "](" + b.file + ")\n\n")
		}
	}
	return s.String()
}

// htmlText escapes s and turns **x** into <strong>x</strong>.
func htmlText(s string) string {
	parts := strings.Split(s, "**")
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 && i < len(parts)-1 {
			b.WriteString("<strong>" + html.EscapeString(p) + "</strong>")
		} else {
			if i%2 == 1 {
				b.WriteString("**")
			}
			b.WriteString(html.EscapeString(p))
		}
	}
	return b.String()
}

// HTML renders the document as one page with the charts inlined.
func (d *Doc) HTML() string {
	var s strings.Builder
	s.WriteString("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + html.EscapeString(d.Title) + "</title>\n")
	s.WriteString("<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}" +
		"table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}" +
		"td:first-child,th:first-child{text-align:left}svg{margin:.5em 1em .5em 0;vertical-align:top}</style></head><body>\n")
	s.WriteString("<h1>" + html.EscapeString(d.Title) + "</h1>\n")
	for _, b := range d.blocks {
		switch b.kind {
		case 'h':
			s.WriteString("<h2>" + html.EscapeString(b.text) + "</h2>\n")
		case 'p':
			s.WriteString("<p>" + htmlText(b.text) + "</p>\n")
		case 't':
			s.WriteString("<table>\n")
			for i, r := range b.rows {
				tag := "td"
				if i == 0 {
					tag = "th"
				}
				s.WriteString("<tr>")
				for _, c := range r {
					s.WriteString("<" + tag + ">" + htmlText(c) + "</" + tag + ">")
				}
				s.WriteString("</tr>\n")
			}
			s.WriteString("</table>\n")
		case 'c':
			s.WriteString(b.chart)
		}
	}
	s.WriteString("</body></html>\n")
	return s.String()
}
