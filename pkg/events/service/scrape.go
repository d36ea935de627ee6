package service

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Series are the samples of a Prometheus text exposition, keyed as
// exposed: `name{label="value",...}` (labels in the exposed order, which
// client_golang sorts by name) or a bare name.
type Series map[string]float64

// maxScrape bounds the exposition Scrape reads.
const maxScrape = 16 << 20

// Scrape reads url's /metrics exposition (the text format) with token as
// a bearer token when set. A status other than 200 is an error that
// carries it.
func Scrape(ctx context.Context, client *http.Client, url, token string) (Series, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", url, resp.Status)
	}
	return ParseSeries(io.LimitReader(resp.Body, maxScrape))
}

// ParseSeries reads samples from a text exposition; comments, blank lines
// and samples without a number are skipped, a timestamp is dropped.
func ParseSeries(r io.Reader) (Series, error) {
	out := Series{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, rest := line, ""
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			key, rest = line[:i+1], strings.TrimSpace(line[i+1:])
		} else if i := strings.IndexByte(line, ' '); i >= 0 {
			key, rest = line[:i], strings.TrimSpace(line[i+1:])
		}
		value, _, _ := strings.Cut(rest, " ")
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[key] = v
		}
	}
	return out, sc.Err()
}
