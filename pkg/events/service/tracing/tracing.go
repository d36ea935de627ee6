// Package tracing installs OpenTelemetry tracing in a wsheal service
// binary: the W3C Trace Context propagator that carries a trace in NATS
// headers (through events.SetTracer), and, only when an OTLP endpoint is
// configured, the SDK with an OTLP/HTTP exporter. Only the binaries
// import it; pkg/events and pkg/client hold no OpenTelemetry code.
//
// Configuration is OpenTelemetry's own environment:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT  turn export on
//	OTEL_SERVICE_NAME        default wsheal-<service>
//	OTEL_TRACES_SAMPLER(_ARG) default parentbased_always_on
//	OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_SCHEDULE_DELAY, ... as the SDK documents
//	OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none  turn it off
//
// Without an endpoint the global no-op provider stays: no span is
// recorded and no exporter runs; a trace context arriving on a message is
// still passed on, so one untraced service does not cut a trace in two.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/wsheal/wsheal/pkg/events/redact"
)

// Config is OpenTelemetry's environment as wsheal reads it. Setup decides
// from it whether to export; the SDK and the exporter read the same
// variables (and the rest of OpenTelemetry's) themselves.
type Config struct {
	Endpoint       string `envconfig:"OTEL_EXPORTER_OTLP_ENDPOINT" desc:"OTLP/HTTP collector base URL (http://otel-collector:4318): spans go to <url>/v1/traces; unset (with the next one unset too) = no tracing exported"`
	TracesEndpoint string `envconfig:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" desc:"full URL for spans only (http://otel-collector:4318/v1/traces), over OTEL_EXPORTER_OTLP_ENDPOINT"`
	Headers        string `envconfig:"OTEL_EXPORTER_OTLP_HEADERS" desc:"headers of every export, key=value comma-separated (an API key)"`
	ServiceName    string `envconfig:"OTEL_SERVICE_NAME" desc:"service.name of the spans; default wsheal-<service> (wsheal-gateway, wsheal-healer ...)"`
	Sampler        string `envconfig:"OTEL_TRACES_SAMPLER" default:"parentbased_always_on" desc:"sampler: parentbased_traceidratio with OTEL_TRACES_SAMPLER_ARG=0.1 keeps a tenth of the traces (a trace is kept or dropped whole)"`
	SamplerArg     string `envconfig:"OTEL_TRACES_SAMPLER_ARG" desc:"the sampler's argument"`
	Exporter       string `envconfig:"OTEL_TRACES_EXPORTER" default:"otlp" desc:"otlp, or none to turn export off"`
	Disabled       string `envconfig:"OTEL_SDK_DISABLED" default:"false" desc:"true turns export off"`
}

// ConfigFromEnv reads Config; a bad value is an error naming its variable.
func ConfigFromEnv() (Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return c, fmt.Errorf("tracing: %w", err)
	}
	switch strings.ToLower(c.Disabled) {
	case "", "true", "false":
	default:
		return c, fmt.Errorf("tracing: OTEL_SDK_DISABLED=%q: want true or false", c.Disabled)
	}
	return c, nil
}

// Enabled reports whether the configuration asks for exported traces.
func (c Config) Enabled() bool {
	if strings.EqualFold(c.Disabled, "true") || c.Exporter == "none" {
		return false
	}
	return c.Endpoint != "" || c.TracesEndpoint != ""
}

// Shutdown flushes the spans not yet exported and stops the exporter.
type Shutdown func(ctx context.Context) error

// Setup installs the propagator for the process and, when Enabled, a
// tracer provider exporting to the configured OTLP/HTTP endpoint, with
// service.name wsheal-<service> unless OTEL_SERVICE_NAME says otherwise.
// Call the returned Shutdown before the process exits.
func Setup(ctx context.Context, service string) (Shutdown, error) {
	return setup(ctx, service, os.Stderr)
}

// setup is Setup with the writer of the exporter's error lines.
func setup(ctx context.Context, service string, errs io.Writer) (Shutdown, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	otel.SetTextMapPropagator(propagation.TraceContext{})
	Install()
	if !cfg.Enabled() {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "wsheal-"+service)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	// An unreachable collector is said as the services log: one JSON line
	// per failed export, through redact (an OTLP header may hold a key).
	log := zerolog.New(redact.Writer(errs)).With().Timestamp().Str("service", service).Str("component", "tracing").Logger()
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn().Err(err).Msg("spans not exported")
	}))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// Run runs fn with tracing set up for service, and flushes the spans
// (for at most 5 s) when it returns.
func Run(ctx context.Context, service string, fn func(context.Context) error) error {
	shutdown, err := Setup(ctx, service)
	if err != nil {
		return err
	}
	runErr := fn(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := shutdown(sctx); err != nil && runErr == nil {
		return fmt.Errorf("tracing: flush: %w", err)
	}
	return runErr
}
