/* `llmobs telemetry status`: whether the daemon sends telemetry, and how
 * delivery goes (read from its outbox). `llmobs telemetry --dry-run`: the
 * exact JSON a batch of the database's recent exchanges would be, built by
 * the daemon's own code, with no network. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli.h"
#include "store.h"
#include "telemetry_config.h"
#include "telemetry_outbox.h"
#include "telemetry_record.h"

struct dry_run {
	const struct telemetry_config *cfg;
	char host_hash[33];
	int64_t since_ns;
	cJSON *records;
	int limit, n;
};

static int dry_run_one(void *ctx, const struct exchange_record *r)
{
	struct dry_run *d = ctx;
	char id[33];
	cJSON *o;

	if (r->ts_start_ns < d->since_ns)
		return 0;
	if (telemetry_new_id(id) < 0 || !(o = telemetry_record_json(d->cfg, r, id, d->host_hash)))
		return -ENOMEM;
	cJSON_AddItemToArray(d->records, o);
	/* The last `limit` exchanges: drop the oldest past it. */
	if (++d->n > d->limit)
		cJSON_DeleteItemFromArray(d->records, 0);
	return 0;
}

static int open_db(const char *db_arg, struct store **s)
{
	char buf[PATH_MAX];
	const char *path = db_arg ? db_arg : store_default_path(buf, sizeof(buf));
	int err = path[0] ? store_open(path, true, s) : -ENOENT;

	if (err)
		fprintf(stderr, "llmobs: cannot read the database %s: %s (--db PATH)\n",
			path[0] ? path : "(no default path)", strerror(-err));
	return err ? EXIT_FAILURE : 0;
}

static int dry_run(const char *db_arg, int64_t since_ns, int limit)
{
	struct telemetry_config cfg;
	struct dry_run d = { .cfg = &cfg, .since_ns = since_ns, .limit = limit };
	struct store *s = NULL;
	char batch_id[33], *text;
	struct timespec now;
	cJSON *doc;
	bool key_ok;
	int ret;

	telemetry_config_load(&cfg, telemetry_config_getenv, NULL, true, &key_ok);
	if (!key_ok) {
		fprintf(stderr, "llmobs: --dry-run needs LLM_OBSERVER_API_KEY=lok_<prefix>.<secret>: "
				"every hash sent is keyed with it\n");
		return EXIT_USAGE;
	}
	ret = open_db(db_arg, &s);
	if (ret)
		return ret;
	telemetry_host_hash(&cfg, d.host_hash);
	d.records = cJSON_CreateArray();
	ret = d.records ? store_foreach(s, dry_run_one, &d) : -ENOMEM;
	store_close(s);
	if (ret < 0 || telemetry_new_id(batch_id) < 0) {
		cJSON_Delete(d.records);
		fprintf(stderr, "llmobs: reading the database failed\n");
		return EXIT_FAILURE;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	doc = telemetry_batch_json(batch_id, (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec,
				   d.host_hash, d.records);
	text = doc ? cJSON_Print(doc) : NULL;
	cJSON_Delete(doc);
	telemetry_config_wipe(&cfg);
	if (!text)
		return EXIT_FAILURE;
	printf("%s\n", text);
	free(text);
	return 0;
}

static void print_time_ns(const char *label, int64_t ns)
{
	time_t s = (time_t)(ns / 1000000000LL);
	struct tm tm;
	char buf[40];

	gmtime_r(&s, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("  %-22s %s\n", label, buf);
}

static int status(const char *db_arg)
{
	struct telemetry_config cfg;
	struct telemetry_outbox_status st;
	struct telemetry_outbox *ob;
	char dbbuf[PATH_MAX], path[PATH_MAX], v[256];
	const char *db = db_arg ? db_arg : store_default_path(dbbuf, sizeof(dbbuf));
	bool key_ok;

	telemetry_config_load(&cfg, telemetry_config_getenv, NULL, false, &key_ok);
	telemetry_outbox_path(db, path, sizeof(path));
	printf("telemetry: %s\n", cfg.enabled ? "this environment would enable it" : "off here");
	if (!cfg.enabled)
		printf("  why                    %s\n", cfg.why_off);
	telemetry_config_wipe(&cfg);
	if (telemetry_outbox_open(path, true, NULL, &ob) < 0) {
		printf("  outbox                 none at %s: the daemon has never sent telemetry "
		       "with this database\n", path);
		return 0;
	}
	telemetry_outbox_get(ob, "enabled", v, sizeof(v));
	printf("  daemon                 %s\n", !strcmp(v, "true") ? "enabled" : "off");
	telemetry_outbox_get(ob, "why_off", v, sizeof(v));
	if (v[0])
		printf("  daemon's reason        %s\n", v);
	telemetry_outbox_get(ob, "endpoint", v, sizeof(v));
	printf("  endpoint               %s\n", v[0] ? v : "-");
	telemetry_outbox_get(ob, "key", v, sizeof(v));
	printf("  key                    %s\n", v[0] ? v : "-");
	if (telemetry_outbox_status(ob, &st) == 0) {
		printf("  queue depth            %" PRId64 "\n", st.depth);
		if (st.oldest_ns)
			print_time_ns("oldest record", st.oldest_ns);
		telemetry_outbox_get(ob, "last_success", v, sizeof(v));
		printf("  last success           %s\n", v[0] ? v : "never");
		telemetry_outbox_get(ob, "last_error", v, sizeof(v));
		if (v[0]) {
			char at[64];

			telemetry_outbox_get(ob, "last_error_at", at, sizeof(at));
			printf("  last error             %s (%s)\n", v, at);
		}
		for (int c = 0; c < TELEMETRY__MAX; c++)
			printf("  %-22s %" PRId64 "\n", telemetry_counter_name(c), st.counters[c]);
	}
	telemetry_outbox_close(ob);
	return 0;
}

int cli_telemetry(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "db", required_argument, NULL, 'd' },
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *db = NULL;
	int64_t since_s = -1;
	bool dry = false;
	long limit = 100;
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n': dry = true; break;
		case 'd': db = optarg; break;
		case 's':
			if (cli_parse_duration(optarg, &since_s) < 0) {
				fprintf(stderr, "llmobs: bad --since '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'l':
			limit = strtol(optarg, &end, 10);
			if (*end || limit < 1 || limit > 10000) {
				fprintf(stderr, "llmobs: --limit takes 1 to 10000\n");
				return EXIT_USAGE;
			}
			break;
		default:
			fprintf(stderr, "Usage: llmobs telemetry status [--db PATH]\n"
					"       llmobs telemetry --dry-run [--db PATH] [--since DURATION] "
					"[--limit N]\n");
			return c == 'h' ? 0 : EXIT_USAGE;
		}
	}
	if (dry) {
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		return dry_run(db, since_s < 0 ? INT64_MIN :
				   ((int64_t)now.tv_sec - since_s) * 1000000000LL, (int)limit);
	}
	if (optind < argc && strcmp(argv[optind], "status") != 0) {
		fprintf(stderr, "llmobs: telemetry: unknown '%s' (status, --dry-run)\n", argv[optind]);
		return EXIT_USAGE;
	}
	return status(db);
}
