package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"slices"
)

// The chart: time per call (log scale) against memoized steps (log
// scale), one line per result type and SDK. This SDK's lines are solid
// with round marks, the official SDK's dashed with square ones, the same
// colour for the same result type.

const (
	chartW, chartH = 820, 520
	plotL, plotR   = 80, 600 // the plot's left and right edges
	plotT, plotB   = 40, 460 // its top and bottom edges
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}

// line is one SDK's times for one result type.
type line struct {
	name, sdk string
	pts       [][2]float64 // steps, time
}

func (t *table) lines(unit string) []line {
	byName := map[string]*line{}
	var out []*line
	for _, s := range t.order {
		name, n, ok := series(s)
		if !ok {
			continue
		}
		for _, sdk := range []string{"ours", "official"} {
			v := t.get(s, sdk, unit)
			if math.IsNaN(v) || v <= 0 {
				continue
			}
			key := name + "\x00" + sdk
			l := byName[key]
			if l == nil {
				l = &line{name: name, sdk: sdk}
				byName[key] = l
				out = append(out, l)
			}
			l.pts = append(l.pts, [2]float64{float64(n), v})
		}
	}
	res := make([]line, 0, len(out))
	for _, l := range out {
		slices.SortFunc(l.pts, func(a, b [2]float64) int { return int(a[0] - b[0]) })
		res = append(res, *l)
	}
	return res
}

// svg draws the chart.
func (t *table) svg(unit string) []byte {
	ls := t.lines(unit)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %[1]d %[2]d" font-family="sans-serif" font-size="12">`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartW, chartH)
	what := "Wall time per call"
	if unit == "cpu-ns/op" {
		what = "CPU time per call"
	}
	fmt.Fprintf(&b, `<text x="%d" y="24" font-size="15" font-weight="bold">%s against memoized steps (log scales)</text>`+"\n", plotL, what)
	if len(ls) == 0 {
		b.WriteString("</svg>\n")
		return b.Bytes()
	}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, l := range ls {
		for _, p := range l.pts {
			xmin, xmax = min(xmin, p[0]), max(xmax, p[0])
			ymin, ymax = min(ymin, p[1]), max(ymax, p[1])
		}
	}
	// Whole decades around the data.
	x0, x1 := math.Floor(math.Log10(xmin)), math.Ceil(math.Log10(xmax))
	y0, y1 := math.Floor(math.Log10(ymin)), math.Ceil(math.Log10(ymax))
	if x1 == x0 {
		x1++
	}
	if y1 == y0 {
		y1++
	}
	px := func(x float64) float64 { return plotL + (math.Log10(x)-x0)/(x1-x0)*(plotR-plotL) }
	py := func(y float64) float64 { return plotB - (math.Log10(y)-y0)/(y1-y0)*(plotB-plotT) }

	// Grid and axes.
	b.WriteString(`<g stroke="#ddd">` + "\n")
	for e := y0; e <= y1; e++ {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`+"\n", plotL, py(math.Pow(10, e)), plotR, py(math.Pow(10, e)))
	}
	for e := x0; e <= x1; e++ {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>`+"\n", px(math.Pow(10, e)), plotT, px(math.Pow(10, e)), plotB)
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", plotL, plotT, plotR-plotL, plotB-plotT)
	for e := y0; e <= y1; e++ {
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", plotL-6, py(math.Pow(10, e))+4, html.EscapeString(duration(math.Pow(10, e))))
	}
	for e := x0; e <= x1; e++ {
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(math.Pow(10, e)), plotB+18, count(math.Pow(10, e)))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">memoized steps per call</text>`+"\n", (plotL+plotR)/2, plotB+40)
	fmt.Fprintf(&b, `<text transform="translate(18 %d) rotate(-90)" text-anchor="middle">time per call</text>`+"\n", (plotT+plotB)/2)

	// Lines, then the legend.
	colours := map[string]string{}
	var names []string
	for _, l := range ls {
		if _, ok := colours[l.name]; !ok {
			colours[l.name] = palette[len(colours)%len(palette)]
			names = append(names, l.name)
		}
		c := colours[l.name]
		dash := ""
		if l.sdk == "official" {
			dash = ` stroke-dasharray="6 4"`
		}
		var pts bytes.Buffer
		for _, p := range l.pts {
			fmt.Fprintf(&pts, "%.1f,%.1f ", px(p[0]), py(p[1]))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2"%s points="%s"/>`+"\n", c, dash, bytes.TrimSpace(pts.Bytes()))
		for _, p := range l.pts {
			if l.sdk == "official" {
				fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="7" height="7" fill="%s"/>`+"\n", px(p[0])-3.5, py(p[1])-3.5, c)
			} else {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", px(p[0]), py(p[1]), c)
			}
		}
	}
	lx, ly := plotR+20, plotT+10
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-weight="bold">each step returns</text>`+"\n", lx, ly)
	for i, name := range names {
		y := ly + 20 + 20*i
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="14" height="10" fill="%s"/>`+"\n", lx, y-9, colours[name])
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", lx+20, y, html.EscapeString(name))
	}
	y := ly + 20 + 20*len(names) + 16
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333" stroke-width="2"/>`+"\n", lx, y-4, lx+30, y-4)
	fmt.Fprintf(&b, `<text x="%d" y="%d">this SDK</text>`+"\n", lx+36, y)
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333" stroke-width="2" stroke-dasharray="6 4"/>`+"\n", lx, y+16, lx+30, y+16)
	fmt.Fprintf(&b, `<text x="%d" y="%d">official Go SDK</text>`+"\n", lx+36, y+20)
	b.WriteString("</svg>\n")
	return b.Bytes()
}
