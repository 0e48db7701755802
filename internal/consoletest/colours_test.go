package consoletest

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
)

// TestJobColoursAreNotStateColours: no job colour is near the colour of a
// board state (out of service, BMP unreachable, ...), by CIE76 distance.
func TestJobColoursAreNotStateColours(t *testing.T) {
	srv := startDemo(t)
	p := openTab(t, srv.url, 800, 600)
	p.open("/")
	raw := evalJS[string](p, `(() => {
		const probe = document.createElement('div');
		document.body.append(probe);
		const rgb = (c) => { probe.style.color = c; return getComputedStyle(probe).color; };
		const jobs = [];
		for (let id = 1; id <= 3000; id++) jobs.push(rgb(window.spallocColours.jobColour(id)));
		const states = Object.fromEntries(Object.entries(window.spallocColours.states).map(([k, v]) => [k, rgb(v)]));
		return JSON.stringify({jobs, states});
	})()`)
	var got struct {
		Jobs   []string          `json:"jobs"`
		States map[string]string `json:"states"`
	}
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatal(err)
	}
	const minDistance = 20.0 // clearly different to the eye
	worst := 1e9
	for id, j := range got.Jobs {
		for state, s := range got.States {
			d := deltaE(parseRGB(t, j), parseRGB(t, s))
			worst = min(worst, d)
			if d < minDistance {
				t.Errorf("job %d's colour %s is %.1f from the colour of %s (%s)", id+1, j, d, state, s)
			}
		}
	}
	t.Logf("closest job colour to a state colour: ΔE %.1f", worst)
}

// parseRGB reads a computed CSS colour "rgb(r, g, b)".
func parseRGB(t *testing.T, s string) [3]float64 {
	t.Helper()
	var c [3]float64
	if _, err := fmt.Sscanf(s, "rgb(%g, %g, %g)", &c[0], &c[1], &c[2]); err != nil {
		t.Fatalf("colour %q: %v", s, err)
	}
	return c
}

// deltaE is the CIE76 distance of two sRGB colours (0-255 channels).
func deltaE(a, b [3]float64) float64 {
	la, lb := toLab(a), toLab(b)
	return math.Sqrt((la[0]-lb[0])*(la[0]-lb[0]) + (la[1]-lb[1])*(la[1]-lb[1]) + (la[2]-lb[2])*(la[2]-lb[2]))
}

func toLab(c [3]float64) [3]float64 {
	var lin [3]float64
	for i, v := range c {
		v /= 255
		if v <= 0.04045 {
			lin[i] = v / 12.92
		} else {
			lin[i] = math.Pow((v+0.055)/1.055, 2.4)
		}
	}
	x := (0.4124*lin[0] + 0.3576*lin[1] + 0.1805*lin[2]) / 0.95047
	y := 0.2126*lin[0] + 0.7152*lin[1] + 0.0722*lin[2]
	z := (0.0193*lin[0] + 0.1192*lin[1] + 0.9505*lin[2]) / 1.08883
	f := func(v float64) float64 {
		if v > 0.008856 {
			return math.Cbrt(v)
		}
		return 7.787*v + 16.0/116
	}
	return [3]float64{116*f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))}
}
