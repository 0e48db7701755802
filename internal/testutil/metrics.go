package testutil

import (
	"bytes"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ParseMetrics parses a scrape of /metrics (the Prometheus text format),
// failing the test when it is not that.
func ParseMetrics(t testing.TB, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v\n%s", err, body)
	}
	return fams
}

// Metric finds the sample of family name with exactly these labels (name,
// value, name, value, ... in the order the scrape lists them), or nil.
func Metric(fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.Metric {
		if len(m.Label) != len(labels)/2 {
			continue
		}
		match := true
		for i, lp := range m.Label {
			match = match && lp.GetName() == labels[2*i] && lp.GetValue() == labels[2*i+1]
		}
		if match {
			return m
		}
	}
	return nil
}

// MetricValue is a gauge's or counter's value; -1 when there is none.
func MetricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	m := Metric(fams, name, labels...)
	switch {
	case m == nil:
		return -1
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	}
	return -1
}
