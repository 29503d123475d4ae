/* Whether telemetry is on, and with what: the LLM_OBSERVER_* switches.
 * Off unless every one is right; when off, why, in one sentence the daemon
 * logs once at start. The API key stays in this struct: what may be logged
 * or shown of it is telemetry_config_key_label() (lok_<prefix>.…). */
#ifndef LLMOBS_TELEMETRY_CONFIG_H
#define LLMOBS_TELEMETRY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define TELEMETRY_FLUSH_DEFAULT_S	30
#define TELEMETRY_FLUSH_MAX_S		3600

struct telemetry_config {
	bool enabled;
	char why_off[192];		/* "" when enabled */
	char api_key[192];		/* lok_<prefix>.<secret>: memory only */
	char key_prefix[40];		/* lok_<prefix>: may be shown */
	char endpoint[512];		/* base URL, no trailing slash */
	char ca_file[512];		/* "" = the system's CAs */
	int flush_seconds;		/* longest a record waits before it is sent */
	bool insecure;			/* --telemetry-insecure: http:// allowed */
	/* HMAC-SHA256 key of every hash sent, derived from the API key: an
	 * organisation's hashes cannot be reversed with a dictionary by anyone
	 * without its key, nor joined with another organisation's. */
	uint8_t hash_key[32];
};

/* Reads the switches through get (getenv, or a config file's lookup; NULL
 * for unset). Fills *c; c->enabled says whether telemetry runs and
 * c->why_off why not. A key that is set but malformed keeps it off even for
 * --dry-run; *key_ok says whether the key itself was usable. */
void telemetry_config_load(struct telemetry_config *c,
			   const char *(*get)(const char *name, void *ctx), void *ctx,
			   bool insecure, bool *key_ok);

/* getenv as a lookup for telemetry_config_load(). */
const char *telemetry_config_getenv(const char *name, void *ctx);

/* "lok_<prefix>.…": the only form of the key that may be logged. */
const char *telemetry_config_key_label(const struct telemetry_config *c, char *buf, size_t size);

/* Hex HMAC-SHA256(hash_key, domain || 0 || value), cut to 32 hex digits,
 * into out[33]. The domain keeps a host name's hash apart from an exe's. */
void telemetry_hash(const struct telemetry_config *c, const char *domain, const char *value,
		    char out[33]);

/* Zeroes the key material. */
void telemetry_config_wipe(struct telemetry_config *c);

#endif
