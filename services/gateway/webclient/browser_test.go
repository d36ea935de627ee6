//go:build unix

package webclient_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/wsheal/wsheal/pkg/events"
	"github.com/wsheal/wsheal/pkg/natskit/natstest"
	"github.com/wsheal/wsheal/services/gateway/webclient"
)

// Figures of the browser test.
const (
	pages          = 3
	clientsPerPage = 12
	published      = 1000
	offlineFor     = 5 * time.Second // the clients' stale timeout is 1 s ping + 1 s grace
)

// clientStats is what a page reports per client (testdata/browser.html).
type clientStats struct {
	Count, Last, Bad, Connects, Hinted, Gaps int
	Ready                                    bool
	Node                                     string
	Nodes                                    []string
	Errors                                   []string
}

type pubStats struct {
	Acked, Duplicates int
	Done              bool
	Error             string
}

func chromiumPath() string {
	if p := os.Getenv("WSHEAL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserThroughHAProxy opens pages that use wsheal.js, served by the
// gateways through a real HAProxy (the compose configuration) on
// loopback, with discovery through the balancer: 36 clients subscribed
// while a page publishes 1000 messages. One gateway is killed, another
// drained, and one page goes offline (network emulation) for longer than
// the stale timeout. Every client must end with every message, once and
// in order.
func TestBrowserThroughHAProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped in -short mode")
	}
	chromium := chromiumPath()
	if chromium == "" {
		t.Skip("\n\n*** SKIPPED: no chromium binary found (tried $WSHEAL_CHROMIUM, chromium, chromium-browser, google-chrome).\n" +
			"*** The wsheal.js browser test did NOT run. Install it: apt-get install -y chromium\n")
	}
	haproxy := haproxyPath(t)
	var example http.Handler
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServer(http.Dir("testdata")))
	mux.HandleFunc("GET /example", func(w http.ResponseWriter, r *http.Request) { example.ServeHTTP(w, r) })
	page := httptest.NewServer(mux)
	t.Cleanup(page.Close)
	f := startFleet(t, haproxy, page.URL)
	example = webclient.Example(f.lb+webclient.VersionedPathJS, f.lb+"/v1/connect", nil)

	ctx := browser(t, chromium)
	checkExample(t, ctx, page.URL+"/example")
	tabs := make([]context.Context, pages)
	for i := range tabs {
		tabs[i], _ = chromedp.NewContext(ctx)
		u := fmt.Sprintf("%s/browser.html?lb=%s&v=%s&clients=%d", page.URL, url.QueryEscape(f.lb), webclient.Version, clientsPerPage)
		if err := chromedp.Do(tabs[i], chromedp.Navigate(u)); err != nil {
			t.Fatalf("open page %d: %v", i, err)
		}
	}
	all := func() []clientStats {
		var out []clientStats
		for i, tab := range tabs {
			out = append(out, eval[[]clientStats](t, tab, fmt.Sprintf("page %d", i), "window.stats ? window.stats() : []")...)
		}
		return out
	}
	natstest.Eventually(t, 30*time.Second, func() bool {
		s := all()
		return len(s) == pages*clientsPerPage && every(s, func(c clientStats) bool { return c.Ready })
	}, "every client subscribed")
	t.Logf("%d clients subscribed through the balancer: %v", pages*clientsPerPage, byNode(all()))

	pubTab, _ := chromedp.NewContext(ctx)
	if err := chromedp.Do(pubTab, chromedp.Navigate(fmt.Sprintf("%s/browser.html?lb=%s&v=%s&clients=0", page.URL, url.QueryEscape(f.lb), webclient.Version))); err != nil {
		t.Fatal(err)
	}
	natstest.Eventually(t, 10*time.Second, func() bool {
		return eval[bool](t, pubTab, "publisher", "typeof window.startPublishing === 'function'")
	}, "publisher page")
	eval[any](t, pubTab, "publisher", fmt.Sprintf("void window.startPublishing(%d)", published))
	pub := func() pubStats { return eval[pubStats](t, pubTab, "publisher", "window.pubStats()") }

	// A gateway dies under its clients.
	natstest.Eventually(t, 20*time.Second, func() bool { return pub().Acked >= 200 }, "200 published")
	victim := busiest(all())
	on := byNode(all())[victim]
	f.nodes[victim].Kill()
	killedAt := time.Now()
	natstest.Eventually(t, 30*time.Second, func() bool {
		return every(all(), func(c clientStats) bool { return c.Node != victim && c.State() })
	}, "every client off the killed node")
	t.Logf("killed %s with %d clients: all reconnected within %v (through the balancer): %v", victim, on, time.Since(killedAt).Round(time.Millisecond), byNode(all()))

	// A drain moves a node's clients by reconnect hints.
	natstest.Eventually(t, 30*time.Second, func() bool { return pub().Acked >= 450 }, "450 published")
	drained := busiest(all())
	before := hintedTotal(all())
	on = byNode(all())[drained]
	drainAt := time.Now()
	drain(t, f, drained)
	natstest.Eventually(t, 30*time.Second, func() bool {
		return every(all(), func(c clientStats) bool { return c.Node != drained })
	}, "every client off the drained node")
	moved := hintedTotal(all()) - before
	t.Logf("drained %s with %d clients: %d moved by reconnect hints within %v: %v", drained, on, moved, time.Since(drainAt).Round(time.Millisecond), byNode(all()))
	if moved < on {
		t.Errorf("drain: %d of %d clients followed a hint", moved, on)
	}

	// A page loses the network for longer than the stale timeout.
	connectsBefore := connectsOf(eval[[]clientStats](t, tabs[0], "page 0", "window.stats()"))
	countBefore := minCount(eval[[]clientStats](t, tabs[0], "page 0", "window.stats()"))
	setOffline(t, tabs[0], true)
	offAt := time.Now()
	time.Sleep(offlineFor) // the outage being emulated
	stalled := minCount(eval[[]clientStats](t, tabs[0], "page 0", "window.stats()"))
	setOffline(t, tabs[0], false)
	natstest.Eventually(t, 30*time.Second, func() bool {
		s := eval[[]clientStats](t, tabs[0], "page 0", "window.stats()")
		return minCount(s) > stalled+10
	}, "the offline page's clients back")
	if again := connectsOf(eval[[]clientStats](t, tabs[0], "page 0", "window.stats()")) - connectsBefore; again < clientsPerPage {
		t.Errorf("offline page: %d of its %d clients found their connection dead and made a new one", again, clientsPerPage)
	}
	t.Logf("trace of one client: %v", eval[[]string](t, tabs[0], "page 0", "window.trace"))
	sig := eval[map[string]int](t, tabs[0], "page 0", "window.signals()")
	t.Logf("page 0 offline %v (%d offline and %d online events): %d messages when it went offline, %d after, %d reconnects; caught up %v after the network came back",
		offlineFor, sig["offline"], sig["online"], countBefore, stalled, connectsOf(eval[[]clientStats](t, tabs[0], "page 0", "window.stats()"))-connectsBefore, time.Since(offAt.Add(offlineFor)).Round(time.Millisecond))

	// Everything, once, in order, everywhere.
	natstest.Eventually(t, 60*time.Second, func() bool { return pub().Done }, "publisher done")
	if p := pub(); p.Error != "" || p.Acked != published {
		t.Fatalf("publisher: %+v", p)
	}
	natstest.Eventually(t, 30*time.Second, func() bool {
		return every(all(), func(c clientStats) bool { return c.Count >= published })
	}, "every client has every message")
	final := all()
	reconnects, gaps, lost, bad := 0, 0, 0, 0
	for i, c := range final {
		reconnects += c.Connects - 1
		gaps += c.Gaps
		lost += max(published-c.Count, 0)
		bad += c.Bad
		if c.Count != published || c.Last != published || c.Bad != 0 {
			t.Errorf("client %d: %d messages (last %d, %d out of order or repeated), want %d once each in order; nodes %v errors %v",
				i, c.Count, c.Last, c.Bad, published, c.Nodes, c.Errors)
		}
	}
	if gaps != 0 {
		t.Errorf("%d recovered:false answers, want none (everything is within retention)", gaps)
	}
	t.Logf("figures: %d clients on %d pages, %d messages each (%d deliveries), %d reconnects, %d hinted moves, %d publish retries stored as duplicates, %d lost, %d repeated or out of order",
		len(final), pages, published, len(final)*published, reconnects, hintedTotal(final), pub().Duplicates, lost, bad)
}

// State reports whether the client has a node (it is connected).
func (c clientStats) State() bool { return c.Node != "" }

func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); acancel() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

func eval[T any](t *testing.T, tab context.Context, what, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %s: %v", what, expr, err)
	}
	return v
}

// setOffline emulates the loss (or return) of the page's network, the
// browser's navigator.onLine and online/offline events included.
func setOffline(t *testing.T, tab context.Context, off bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	cond := []*network.Conditions{{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{MatchedNetworkConditions: cond}); err != nil {
		t.Fatalf("emulate offline=%v: %v", off, err)
	}
	if _, err := chromedp.Call(ctx, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}); err != nil {
		t.Fatalf("network state offline=%v: %v", off, err)
	}
}

func drain(t *testing.T, f *fleet, node string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var rep events.DrainReply
	cmd := events.DrainCommand{ID: "browser-" + strconv.FormatInt(time.Now().UnixNano(), 10), OverMS: 1000}
	if err := events.Request(ctx, f.ns.Conn(), events.GatewayControlSubject(node, events.VerbDrain), cmd, &rep); err != nil {
		t.Fatalf("drain %s: %v", node, err)
	}
}

func every(s []clientStats, ok func(clientStats) bool) bool {
	for _, c := range s {
		if !ok(c) {
			return false
		}
	}
	return true
}

func byNode(s []clientStats) map[string]int {
	m := map[string]int{}
	for _, c := range s {
		m[c.Node]++
	}
	return m
}

// busiest is the node with the most clients.
func busiest(s []clientStats) string {
	m := byNode(s)
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return m[names[i]] > m[names[j]] || (m[names[i]] == m[names[j]] && names[i] < names[j])
	})
	return names[0]
}

func hintedTotal(s []clientStats) (n int) {
	for _, c := range s {
		n += c.Hinted
	}
	return n
}

func connectsOf(s []clientStats) (n int) {
	for _, c := range s {
		n += c.Connects
	}
	return n
}

func minCount(s []clientStats) int {
	m := -1
	for _, c := range s {
		if m < 0 || c.Count < m {
			m = c.Count
		}
	}
	return m
}

// checkExample opens the example page (what `wsheal dev` serves), waits
// for it to connect and subscribe, publishes from its form and sees the
// message in its list.
func checkExample(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	sctx, scancel := context.WithTimeout(tab, 30*time.Second)
	defer scancel()
	poll := func(expr string) chromedp.Action[bool] {
		return chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second))
	}
	if err := chromedp.Do(sctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("example page: %v", err)
	}
	if _, err := chromedp.Run(sctx, poll(`document.getElementById("state").dataset.state === "connected" && document.getElementById("log").textContent.includes("subscribed to demo")`)); err != nil {
		t.Fatalf("example page: not connected and subscribed: %v", err)
	}
	if err := chromedp.Do(sctx, chromedp.SetValue(chromedp.CSS(`#pub input[name="data"]`), "from the example page"), chromedp.Click(chromedp.CSS(`#pub button`))); err != nil {
		t.Fatalf("example page: publish: %v", err)
	}
	if _, err := chromedp.Run(sctx, poll(`document.getElementById("messages").textContent.includes("from the example page")`)); err != nil {
		t.Fatalf("example page: the published message did not arrive: %v", err)
	}
	t.Logf("example page: connected, subscribed, published and received through the balancer")
}
