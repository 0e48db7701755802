// Package consoletest is the browser suite of the dashboard and operator
// console: it runs the real spallocd program (built once for the suite,
// with its machines' BMPs served by in-process fakes, `fake_bmp = {...}`)
// and drives its pages in headless Chromium through chromedp, as an
// operator would: every action of the console, the job list and audit
// filters, the 1200-board machine page and the narrow (420 px) layout.
//
// Pages are checked against what the server says through its HTTP API and
// the v1 protocol, never against the server's memory: the tests see the
// program from the outside. Screenshots are written under each test's temp
// folder and, when SPALLOC_ARTIFACTS names a folder, there too (that is
// how the pictures in docs/ are made).
//
// It holds tests only and is skipped with -short (it builds the programs).
// It needs Debian's chromium (scripts/test.sh installs it).
package consoletest
