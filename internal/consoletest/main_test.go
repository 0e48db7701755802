package consoletest

import (
	"os"
	"testing"

	"github.com/spalloc/spallocd/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.RunMain(m)) }
