package replay

import (
	"context"
	"encoding/xml"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// integral is the area under the step function over [start, end) (ms).
func (s *Series) integral(start, end int64) float64 {
	sum := 0.0
	for i := range s.Times {
		from, to := max(s.Times[i], start), end
		if i+1 < len(s.Times) {
			to = min(s.Times[i+1], end)
		}
		if to > from {
			sum += float64(s.Values[i]) * float64(to-from)
		}
	}
	return sum
}

// TestBucketMeansOfAConstantSeries: a constant series plots constant, for
// bucket widths that are and are not whole milliseconds.
func TestBucketMeansOfAConstantSeries(t *testing.T) {
	for _, c := range []struct{ start, end int64 }{{0, 800_000}, {1, 547_123_457}, {5, 805}, {0, 333}} {
		s := Series{Times: []int64{c.start}, Values: []int{7}}
		for b, v := range s.bucketMeans(c.start, c.end, 800) {
			if v != 7 {
				t.Fatalf("[%d, %d] ms: bucket %d = %v, want 7", c.start, c.end, b, v)
			}
		}
	}
}

// TestBucketMeansOfSteps: steps longer than a bucket (and shorter ones)
// never spike: a bucket inside one step shows that step's value, a bucket
// across steps a value between them, and the buckets keep the area.
func TestBucketMeansOfSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		start := rng.Int64N(1000)
		end := start + 1 + rng.Int64N(50_000_000)
		s := Series{Times: []int64{start}, Values: []int{rng.IntN(100)}}
		for at := start; ; {
			at += 1 + rng.Int64N((end-start)/20+1) // steps of up to a twentieth of the range
			if at >= end {
				break
			}
			s.Times, s.Values = append(s.Times, at), append(s.Values, rng.IntN(100))
		}
		checkBucketMeans(t, &s, start, end, 800)
	}
}

func checkBucketMeans(t *testing.T, s *Series, start, end int64, n int) {
	t.Helper()
	means := s.bucketMeans(start, end, n)
	area := 0.0
	for b, v := range means {
		lo, hi := start+(end-start)*int64(b)/int64(n), start+(end-start)*int64(b+1)/int64(n)
		area += v * float64(hi-lo)
		low, high := math.Inf(1), math.Inf(-1)
		for i, at := range s.Times {
			next := int64(end)
			if i+1 < len(s.Times) {
				next = s.Times[i+1]
			}
			if at < hi && next > lo { // the step overlaps the bucket
				low, high = min(low, float64(s.Values[i])), max(high, float64(s.Values[i]))
			}
		}
		if v < low-1e-9 || v > high+1e-9 {
			t.Fatalf("[%d, %d] ms: bucket %d [%d, %d) = %v, outside the values %v..%v of its steps", start, end, b, lo, hi, v, low, high)
		}
	}
	if want := s.integral(start, end); math.Abs(area-want) > 1e-6*want {
		t.Errorf("[%d, %d] ms: buckets hold an area of %v, the series %v", start, end, area, want)
	}
}

// TestPlotTextsDoNotOverlap: no two labels of the plot (title, subtitle,
// legends, axis labels) cover each other.
func TestPlotTextsDoNotOverlap(t *testing.T) {
	tr, ms := load(t, "testdata/tiny.csv", "testdata/tiny.machine.json")
	res, err := Run(context.Background(), tr, ms, Options{DBPath: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	var svg strings.Builder
	if err := WriteSVG(&svg, res); err != nil {
		t.Fatal(err)
	}
	boxes := textBoxes(t, svg.String())
	if len(boxes) < 10 {
		t.Fatalf("found %d labels in the plot", len(boxes))
	}
	for i, a := range boxes {
		for _, b := range boxes[i+1:] {
			if a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1 {
				t.Errorf("%q and %q overlap", a.text, b.text)
			}
		}
	}
}

type textBox struct {
	text           string
	x0, y0, x1, y1 float64
}

// textBoxes estimates where each unrotated <text> of an SVG is drawn: a
// sans-serif character is at most about 0.6 of the font size wide.
func textBoxes(t *testing.T, svg string) []textBox {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(svg))
	var out []textBox
	fontSize := 12.0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := map[string]string{}
		for _, a := range se.Attr {
			attr[a.Name.Local] = a.Value
		}
		if se.Name.Local == "svg" && attr["font-size"] != "" {
			fontSize, _ = strconv.ParseFloat(attr["font-size"], 64)
		}
		if se.Name.Local != "text" || attr["transform"] != "" {
			continue
		}
		var body string
		if err := dec.DecodeElement(&body, &se); err != nil {
			t.Fatal(err)
		}
		size := fontSize
		if attr["font-size"] != "" {
			size, _ = strconv.ParseFloat(attr["font-size"], 64)
		}
		x, _ := strconv.ParseFloat(attr["x"], 64)
		y, _ := strconv.ParseFloat(attr["y"], 64)
		w := 0.6 * size * float64(len([]rune(body)))
		switch attr["text-anchor"] {
		case "middle":
			x -= w / 2
		case "end":
			x -= w
		}
		out = append(out, textBox{body, x, y - 0.8*size, x + w, y + 0.2*size})
	}
	return out
}
