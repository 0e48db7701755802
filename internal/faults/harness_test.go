package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spalloc/spallocd/internal/testutil"
	"github.com/spalloc/spallocd/internal/udpproxy"
	"github.com/spalloc/spallocd/tcpserver/client"
)

// rig is a spallocd process whose one machine's BMP is a fakebmp process
// behind a UDP proxy.
type rig struct {
	bins   testutil.Binaries
	dir    string // the test's folder: configuration, database
	config string // configuration file
	db     string // database file
	proxy  *udpproxy.Proxy
}

// newRig starts a fakebmp process (with fakeArgs, e.g. "--power-delay",
// "4s") and a proxy in front of it and writes a configuration with one
// 2x1-triad machine "m" behind the proxy. extraTOML is added to the [bmp]
// settings of testutil.FastTOML.
func newRig(t *testing.T, extraTOML string, fakeArgs ...string) *rig {
	t.Helper()
	bins := testutil.Build(t)
	dir := t.TempDir()
	bmpAddr := testutil.StartFakeBMP(t, bins, fakeArgs...)
	proxy, err := udpproxy.Start("127.0.0.1:0", bmpAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	r := &rig{bins: bins, dir: dir, config: filepath.Join(dir, "spalloc.toml"), db: filepath.Join(dir, "spalloc.db"), proxy: proxy}
	testutil.WriteFile(t, r.config, testutil.FastTOML+extraTOML+testutil.MachineTOML("m", 2, proxy.Addr(), "10.9.0"))
	return r
}

// start runs spallocd on the rig's configuration and database.
func (r *rig) start(t *testing.T, args ...string) *testutil.Server {
	t.Helper()
	return testutil.StartServer(t, r.bins, append([]string{"--config", r.config, "--db", r.db}, args...)...)
}

// awaitState polls a job until it reaches state want (30 s at most).
func awaitState(t *testing.T, c *client.Client, id int64, want int) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, fmt.Sprintf("job %d reaches state %d", id, want), func() bool {
		st, err := c.GetJobState(testutil.Ctx(t), id)
		if err != nil {
			t.Fatalf("get_job_state(%d): %v", id, err)
		}
		return st.State == want
	})
}

func createJob(t *testing.T, c *client.Client, args []any, kwargs map[string]any) int64 {
	t.Helper()
	if kwargs == nil {
		kwargs = map[string]any{}
	}
	if _, ok := kwargs["owner"]; !ok {
		kwargs["owner"] = "faults"
	}
	if _, ok := kwargs["keepalive"]; !ok {
		kwargs["keepalive"] = nil
	}
	id, err := c.CreateJob(testutil.Ctx(t), args, kwargs)
	if err != nil {
		t.Fatalf("create_job%v: %v", args, err)
	}
	return id
}

// TestHarness checks the suite's own rig: a job's boards are powered
// through the proxy by the fakebmp process, and a small file system can be
// had for full-disk tests (or the test says why not).
func TestHarness(t *testing.T) {
	r := newRig(t, "")
	srv := r.start(t)
	c := testutil.Dial(t, srv.V1)
	id := createJob(t, c, []any{1}, nil)
	awaitState(t, c, id, client.StateReady)
	if st := r.proxy.Stats(); st.Requests.Forwarded == 0 || st.Replies.Forwarded == 0 {
		t.Fatalf("proxy stats %+v: the BMP traffic did not go through the proxy", st)
	}
	if code, body := testutil.HTTPGet(t, srv.HTTP, "/healthz"); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code := srv.Stop(t); code != 0 {
		t.Fatalf("spallocd exited with %d after SIGTERM", code)
	}

	t.Run("small file system", func(t *testing.T) {
		dir := testutil.SmallFS(t, 1<<20)
		err := os.WriteFile(filepath.Join(dir, "big"), make([]byte, 2<<20), 0o600)
		if err == nil {
			t.Fatal("wrote 2 MiB into a 1 MiB file system")
		}
	})
}
