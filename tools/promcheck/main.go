// Command promcheck parses Prometheus text exposition (format 0.0.4) from stdin
// with the real Prometheus parser (github.com/prometheus/common/expfmt), lints
// it with promlint (github.com/prometheus/client_golang), checks that every
// histogram is well formed, and prints the result as JSON on stdout:
//
//	{"families": {name: {"type", "help", "metrics": [...]}}, "lint": [{"metric", "text"}]}
//
// A counter, gauge or untyped metric is {"labels", "value"}; a histogram is
// {"labels", "buckets": [{"le", "count"}], "sum", "count"}. Numbers that JSON
// cannot hold are the strings "+Inf", "-Inf" and "NaN".
//
// Exit status: 0 when the input parses (lint problems are data, not
// failures), 1 with the reason on stderr when it does not parse or a
// histogram is malformed, 2 on an I/O error.
//
// Built by scripts/install_promcheck.sh into .tools/bin/promcheck; used by
// tests/_promcheck.ts.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// number is a float64 that encodes non-finite values as JSON strings.
type number float64

func (n number) MarshalJSON() ([]byte, error) {
	f := float64(n)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Inf"`), nil
	}
	return []byte(strconv.FormatFloat(f, 'g', -1, 64)), nil
}

type bucket struct {
	Le    number `json:"le"`
	Count number `json:"count"`
}

type metric struct {
	Labels  map[string]string `json:"labels"`
	Value   *number           `json:"value,omitempty"`
	Buckets []bucket          `json:"buckets,omitempty"`
	Sum     *number           `json:"sum,omitempty"`
	Count   *number           `json:"count,omitempty"`
}

type family struct {
	Type    string   `json:"type"`
	Help    string   `json:"help"`
	Metrics []metric `json:"metrics"`
}

type problem struct {
	Metric string `json:"metric"`
	Text   string `json:"text"`
}

type report struct {
	Families map[string]family `json:"families"`
	Lint     []problem         `json:"lint"`
}

func ptr(f float64) *number {
	n := number(f)
	return &n
}

func histogramCount(h *dto.Histogram) float64 {
	if h.SampleCountFloat != nil {
		return h.GetSampleCountFloat()
	}
	return float64(h.GetSampleCount())
}

func bucketCount(b *dto.Bucket) float64 {
	if b.CumulativeCountFloat != nil {
		return b.GetCumulativeCountFloat()
	}
	return float64(b.GetCumulativeCount())
}

// convertHistogram returns the buckets of h, or an error when they are not
// ascending, cumulative, ending in +Inf with the histogram's count.
func convertHistogram(name string, labels map[string]string, h *dto.Histogram) ([]bucket, error) {
	buckets := make([]bucket, 0, len(h.GetBucket()))
	for i, b := range h.GetBucket() {
		le, count := b.GetUpperBound(), bucketCount(b)
		if i > 0 {
			previous := buckets[i-1]
			if !(le > float64(previous.Le)) {
				return nil, fmt.Errorf("histogram %s%v: bucket le=%v after le=%v: bounds must ascend", name, labels, le, float64(previous.Le))
			}
			if count < float64(previous.Count) {
				return nil, fmt.Errorf("histogram %s%v: bucket le=%v count %v < %v of le=%v: counts must be cumulative", name, labels, le, count, float64(previous.Count), float64(previous.Le))
			}
		}
		buckets = append(buckets, bucket{Le: number(le), Count: number(count)})
	}
	if len(buckets) == 0 || !math.IsInf(float64(buckets[len(buckets)-1].Le), 1) {
		return nil, fmt.Errorf("histogram %s%v: no le=\"+Inf\" bucket", name, labels)
	}
	if last, count := float64(buckets[len(buckets)-1].Count), histogramCount(h); last != count {
		return nil, fmt.Errorf("histogram %s%v: le=\"+Inf\" bucket %v != _count %v", name, labels, last, count)
	}
	return buckets, nil
}

func convert(mf *dto.MetricFamily) (family, error) {
	out := family{Type: mf.GetType().String(), Help: mf.GetHelp(), Metrics: []metric{}}
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, pair := range m.GetLabel() {
			labels[pair.GetName()] = pair.GetValue()
		}
		row := metric{Labels: labels}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			row.Value = ptr(m.GetCounter().GetValue())
		case dto.MetricType_GAUGE:
			row.Value = ptr(m.GetGauge().GetValue())
		case dto.MetricType_UNTYPED:
			row.Value = ptr(m.GetUntyped().GetValue())
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			buckets, err := convertHistogram(mf.GetName(), labels, h)
			if err != nil {
				return family{}, err
			}
			row.Buckets, row.Sum, row.Count = buckets, ptr(h.GetSampleSum()), ptr(histogramCount(h))
		default:
			return family{}, fmt.Errorf("metric %s: type %s is not supported by promcheck", mf.GetName(), mf.GetType())
		}
		out.Metrics = append(out.Metrics, row)
	}
	return out, nil
}

func run(in io.Reader, out io.Writer) (int, error) {
	input, err := io.ReadAll(in)
	if err != nil {
		return 2, fmt.Errorf("reading stdin: %w", err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	parsed, err := parser.TextToMetricFamilies(bytes.NewReader(input))
	if err != nil {
		return 1, err
	}
	names := make([]string, 0, len(parsed))
	for name := range parsed {
		names = append(names, name)
	}
	sort.Strings(names)
	result := report{Families: map[string]family{}, Lint: []problem{}}
	mfs := make([]*dto.MetricFamily, 0, len(names))
	for _, name := range names {
		converted, err := convert(parsed[name])
		if err != nil {
			return 1, err
		}
		result.Families[name] = converted
		mfs = append(mfs, parsed[name])
	}
	problems, err := promlint.NewWithMetricFamilies(mfs).Lint()
	if err != nil {
		return 1, fmt.Errorf("lint: %w", err)
	}
	for _, p := range problems {
		result.Lint = append(result.Lint, problem{Metric: p.Metric, Text: p.Text})
	}
	encoder := json.NewEncoder(out)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(result); err != nil {
		return 2, fmt.Errorf("writing stdout: %w", err)
	}
	return 0, nil
}

func main() {
	code, err := run(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "promcheck:", err)
	}
	os.Exit(code)
}
