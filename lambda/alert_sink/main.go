// Command alert_sink is the single receiver for every monitoring component
// of mailtier (Alertmanager, Uptime Kuma, Healthchecks). It turns their
// webhooks into Pushover and ntfy pushes according to severity.
//
// One binary runs two ways. With AWS_LAMBDA_RUNTIME_API set (inside Lambda,
// provided.al2023) it serves a Function URL and reads its secrets from SSM
// Parameter Store at cold start. Without it, it is a plain HTTP server on
// --web.listen-address, POST /, reading its secrets from the environment,
// for self-hosters and tests.
//
// See docs/alert_sink.md.
package main

import "context"
import "errors"
import "fmt"
import "io"
import "log/slog"
import "net"
import "net/http"
import "os"
import "os/signal"
import "strings"
import "syscall"
import "time"

import "github.com/alecthomas/kingpin/v2"
import "github.com/aws/aws-lambda-go/lambda"
import awsconfig "github.com/aws/aws-sdk-go-v2/config"
import "github.com/aws/aws-sdk-go-v2/service/dynamodb"
import "github.com/aws/aws-sdk-go-v2/service/ssm"
import "github.com/prometheus/common/promslog"
import promslogflag "github.com/prometheus/common/promslog/flag"

import "github.com/cabalmail/mailtier/lambda/alert_sink/dedupe"
import "github.com/cabalmail/mailtier/lambda/alert_sink/handler"
import "github.com/cabalmail/mailtier/lambda/alert_sink/notify"
import "github.com/cabalmail/mailtier/lambda/alert_sink/secrets"

// options are the non-secret settings. Each flag also reads an environment
// variable, because a Lambda has no command line.
type options struct {
	listenAddress string

	ntfyBaseURL    string
	ntfyTopic      string
	pushoverAPIURL string

	emergency       bool
	emergencyRetry  time.Duration
	emergencyExpire time.Duration

	policy notify.Policy

	alertmanagerTTL time.Duration
	simpleTTL       time.Duration
	dedupeTable     string

	log promslog.Config
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	var o options
	app := kingpin.New("alert_sink", "Turns Alertmanager, Uptime Kuma and Healthchecks webhooks into Pushover and ntfy pushes.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.HelpFlag.Short('h')
	app.Flag("web.listen-address", "Address to listen on in HTTP mode (ignored in Lambda).").
		Default(":9798").StringVar(&o.listenAddress)
	app.Flag("ntfy.base-url", "ntfy server, e.g. https://ntfy.example.com. Empty disables ntfy in HTTP mode.").
		Envar("NTFY_BASE_URL").StringVar(&o.ntfyBaseURL)
	app.Flag("ntfy.topic", "ntfy topic to publish to.").
		Envar("NTFY_TOPIC").StringVar(&o.ntfyTopic)
	app.Flag("pushover.api-url", "Pushover API base; /messages.json and /receipts/... are appended.").
		Envar("PUSHOVER_API_URL").Default(notify.PushoverAPI).StringVar(&o.pushoverAPIURL)
	app.Flag("pushover.emergency", "Send critical alerts with Pushover priority 2 (emergency) instead of 1.").
		Envar("PUSHOVER_EMERGENCY").BoolVar(&o.emergency)
	app.Flag("pushover.emergency-retry", "How often Pushover repeats an unacknowledged emergency (at least 30s).").
		Envar("PUSHOVER_EMERGENCY_RETRY").Default("60s").DurationVar(&o.emergencyRetry)
	app.Flag("pushover.emergency-expire", "How long Pushover keeps repeating an emergency (at most 3h).").
		Envar("PUSHOVER_EMERGENCY_EXPIRE").Default("1h").DurationVar(&o.emergencyExpire)
	app.Flag("notify.timeout", "Timeout of one attempt to reach a transport.").
		Envar("ALERT_SINK_NOTIFY_TIMEOUT").Default(notify.DefaultPolicy.Timeout.String()).DurationVar(&o.policy.Timeout)
	app.Flag("notify.attempts", "Attempts per transport call within one request.").
		Envar("ALERT_SINK_NOTIFY_ATTEMPTS").Default(fmt.Sprint(notify.DefaultPolicy.Attempts)).IntVar(&o.policy.Attempts)
	app.Flag("notify.backoff", "Pause before the second attempt; doubles after each.").
		Envar("ALERT_SINK_NOTIFY_BACKOFF").Default(notify.DefaultPolicy.Backoff.String()).DurationVar(&o.policy.Backoff)
	app.Flag("dedupe.alertmanager-ttl", "How long a delivered Alertmanager notification is remembered; keep it above group_interval and below repeat_interval.").
		Envar("ALERT_SINK_DEDUPE_ALERTMANAGER_TTL").Default("1h").DurationVar(&o.alertmanagerTTL)
	app.Flag("dedupe.simple-ttl", "How long a delivered simple payload is remembered; it covers a caller's retries only.").
		Envar("ALERT_SINK_DEDUPE_SIMPLE_TTL").Default("2m").DurationVar(&o.simpleTTL)
	app.Flag("dedupe.table", "DynamoDB table for the idempotency records, shared by every instance; empty keeps them in this process's memory.").
		Envar("ALERT_SINK_DEDUPE_TABLE").StringVar(&o.dedupeTable)
	promslogflag.AddFlags(app, &o.log)
	app.GetFlag(promslogflag.LevelFlagName).Envar("ALERT_SINK_LOG_LEVEL")
	app.GetFlag(promslogflag.FormatFlagName).Envar("ALERT_SINK_LOG_FORMAT")

	if _, err := app.Parse(args); err != nil {
		fmt.Fprintf(stderr, "alert_sink: %v\n", err)
		return 2
	}
	o.log.Writer = stderr
	logger := promslog.New(&o.log)

	if err := o.check(); err != nil {
		logger.Error("invalid settings", "err", err)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var err error
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") != "" {
		err = runLambda(ctx, o, logger)
	} else {
		err = runHTTP(ctx, o, logger)
	}
	if err != nil {
		logger.Error("alert_sink stopped", "err", err)
		return 1
	}
	return 0
}

func (o options) check() error {
	if o.policy.Attempts < 1 {
		return errors.New("--notify.attempts must be at least 1")
	}
	if o.policy.Timeout <= 0 || o.policy.Backoff < 0 {
		return errors.New("--notify.timeout must be positive and --notify.backoff not negative")
	}
	return handler.CheckEmergency(o.emergencyRetry, o.emergencyExpire)
}

// runLambda loads the secrets from SSM once, then serves invocations until
// the runtime stops the process.
func runLambda(ctx context.Context, o options, logger *slog.Logger) error {
	if o.ntfyBaseURL == "" || o.ntfyTopic == "" {
		return errors.New("NTFY_BASE_URL and NTFY_TOPIC must be set")
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	s, err := secrets.FromSSM(ctx, ssm.NewFromConfig(cfg), os.Getenv)
	if err != nil {
		return err
	}
	var records dedupe.Store
	if o.dedupeTable != "" {
		records = &dedupe.DynamoDB{Client: dynamodb.NewFromConfig(cfg), Table: o.dedupeTable}
	} else {
		logger.Warn("no --dedupe.table: idempotency records in memory, not shared between instances")
	}
	h, err := newHandler(o, s, records, logger, "lambda")
	if err != nil {
		return err
	}
	lambda.StartWithOptions(h.FunctionURL, lambda.WithContext(ctx))
	return nil
}

// runHTTP serves POST / until SIGINT or SIGTERM, then lets running
// deliveries finish.
func runHTTP(ctx context.Context, o options, logger *slog.Logger) error {
	s, err := secrets.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if (s.PushoverUser == "") != (s.PushoverToken == "") {
		return fmt.Errorf("set both %s and %s, or neither", secrets.EnvPushoverUser, secrets.EnvPushoverToken)
	}
	if (o.ntfyBaseURL == "") != (o.ntfyTopic == "") {
		return errors.New("set both NTFY_BASE_URL and NTFY_TOPIC, or neither")
	}
	var records dedupe.Store
	if o.dedupeTable != "" {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return fmt.Errorf("aws config: %w", err)
		}
		records = &dedupe.DynamoDB{Client: dynamodb.NewFromConfig(cfg), Table: o.dedupeTable}
	}
	h, err := newHandler(o, s, records, logger, "http")
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/{$}", h)
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "OK\n")
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", o.listenAddress)
	if err != nil {
		return err
	}
	logger.Info("listening", "address", ln.Addr().String())

	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	// A delivery in flight may take the whole retry budget of both
	// transports; give it that long to finish before exiting.
	sctx, cancel := context.WithTimeout(context.Background(), o.policy.MaxDuration()+time.Second)
	defer cancel()
	logger.Info("shutting down")
	return srv.Shutdown(sctx)
}

// newHandler wires the transports the settings enable into a Handler and
// logs what is enabled, never the secrets.
func newHandler(o options, s secrets.Secrets, records dedupe.Store, logger *slog.Logger, mode string) (*handler.Handler, error) {
	client := &http.Client{}
	cfg := handler.Config{
		Secret:          s.Shared,
		Emergency:       o.emergency,
		EmergencyRetry:  o.emergencyRetry,
		EmergencyExpire: o.emergencyExpire,
		AlertmanagerTTL: o.alertmanagerTTL,
		SimpleTTL:       o.simpleTTL,
		Records:         records,
		Logger:          logger,
	}
	if s.PushoverUser != "" && s.PushoverToken != "" {
		cfg.Pushover = &notify.Pushover{BaseURL: o.pushoverAPIURL, Token: s.PushoverToken, User: s.PushoverUser, Client: client, Policy: o.policy}
	}
	if o.ntfyBaseURL != "" && o.ntfyTopic != "" {
		cfg.Ntfy = &notify.Ntfy{BaseURL: o.ntfyBaseURL, Topic: o.ntfyTopic, Token: s.NtfyToken, Client: client, Policy: o.policy}
	}
	h, err := handler.New(cfg)
	if err != nil {
		return nil, err
	}
	var enabled []string
	if cfg.Pushover != nil {
		enabled = append(enabled, "pushover")
	}
	if cfg.Ntfy != nil {
		enabled = append(enabled, "ntfy")
	}
	logger.Info("alert_sink starting", "mode", mode, "transports", strings.Join(enabled, ","),
		"pushover_emergency", o.emergency, "ntfy_topic", o.ntfyTopic, "dedupe_table", o.dedupeTable)
	return h, nil
}
