package consoletest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
)

// TestConsoleReservation: when the head of a machine's queue is blocked,
// the triads reserved for it (scheduler policy "reserve") are outlined on
// the machine's map, apart from job and state colours, with a legend entry
// and the job's id; the outline goes when the job starts.
func TestConsoleReservation(t *testing.T) {
	srv := startDemo(t)
	c := srv.dial(t)
	const m = "demo-4x2"
	first := createJob(t, c, []any{2, 2}, map[string]any{"owner": "mia", "machine": m})
	head := createJob(t, c, []any{3, 2}, map[string]any{"owner": "noah", "machine": m}) // cannot fit beside the first
	var got struct {
		Reservation *struct {
			Job        int64 `json:"job"`
			X, Y, W, H int
		} `json:"reservation"`
	}
	srv.get(t, "/machines/"+m, &got)
	r := got.Reservation
	if r == nil || r.Job != head {
		t.Fatalf("reservation %+v, want one for job %d", r, head)
	}

	p := openTab(t, srv.url, 1400, 1000)
	p.open("/machines/" + m)
	p.await(fmt.Sprintf(`document.querySelector('#machine-map svg.map').dataset.reservation === '%d'`, head), "the reservation drawn")
	inside := evalJS[[]string](p, `[...document.querySelectorAll('#machine-map polygon.board.reserved')].map(h => [h.dataset.x, h.dataset.y, h.dataset.z].join(','))`)
	var want []string
	for x := r.X; x < r.X+r.W; x++ {
		for y := r.Y; y < r.Y+r.H; y++ {
			for z := range 3 {
				want = append(want, fmt.Sprintf("%d,%d,%d", x%4, y%2, z))
			}
		}
	}
	if len(inside) != len(want) {
		t.Errorf("%d boards marked reserved (%v), want the %d of triads %d,%d %dx%d", len(inside), inside, len(want), r.X, r.Y, r.W, r.H)
	}
	for _, w := range want {
		if !strings.Contains(","+strings.Join(inside, ",,")+",", ","+w+",") {
			t.Errorf("board %s of the reserved region not marked", w)
		}
	}
	// One outline around the region: 3×2 triads have a boundary of more
	// edges than any one board, and fewer than all of the region's boards'.
	edges := evalJS[int](p, `(document.querySelector('#machine-map path.reservation-line').getAttribute('d').match(/M/g) || []).length`)
	if edges <= 6 || edges >= 6*len(want) {
		t.Errorf("the outline has %d edges, want the region's boundary only", edges)
	}
	stroke := evalJS[string](p, `getComputedStyle(document.querySelector('#machine-map path.reservation-line')).strokeDasharray`)
	if stroke == "" || stroke == "none" {
		t.Error("the reservation outline is not dashed (it would look like a selected or past job's board)")
	}
	if got := evalJS[string](p, `document.querySelector('#machine-map .reservation-label').textContent`); got != fmt.Sprintf("job %d", head) {
		t.Errorf("the region's label is %q, want the job", got)
	}
	if got := p.text(`#machine-map .reserved-note`); !strings.Contains(got, fmt.Sprintf("reserved for job %d", head)) {
		t.Errorf("the machine card's note: %q", got)
	}
	if got := p.text(`.legend`); !strings.Contains(got, "reserved for the job at the head of the queue") {
		t.Errorf("the legend lacks the reservation: %q", got)
	}
	p.screenshot("console-reservation.png")

	// The first job ends: the head starts, and the outline goes.
	if err := c.DestroyJob(testutil.Ctx(t), first, nil); err != nil {
		t.Fatal(err)
	}
	srv.awaitJob(t, head, "allocated", func(j job) bool { return j.State != "queued" })
	p.await(`!document.querySelector('#machine-map svg.map').dataset.reservation && !document.querySelector('#machine-map path.reservation-line') &&
		!document.querySelector('#machine-map polygon.board.reserved')`, "the outline gone")
}
