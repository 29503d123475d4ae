/* The LLM_OBSERVER_* switches -> a telemetry configuration or the reason
 * it is off. Anything but an exact, well-formed setting keeps telemetry
 * off: a typo must never start sending, and a bad key must never be sent
 * to an endpoint that would log it as an authentication failure. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include "telemetry_config.h"

#define PREFIX_MIN	4
#define PREFIX_MAX	32
#define SECRET_MIN	16
#define SECRET_MAX	128

const char *telemetry_config_getenv(const char *name, void *ctx)
{
	(void)ctx;
	return getenv(name);
}

static bool all_of(const char *s, size_t n, const char *extra)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

/* lok_<prefix>.<secret>: prefix [A-Za-z0-9]{4,32}, secret [A-Za-z0-9_-]{16,128}. */
static bool key_valid(const char *k, size_t *prefix_len)
{
	const char *dot;
	size_t p, s;

	if (strncmp(k, "lok_", 4) != 0 || !(dot = strchr(k + 4, '.')))
		return false;
	p = (size_t)(dot - (k + 4));
	s = strlen(dot + 1);
	if (p < PREFIX_MIN || p > PREFIX_MAX || s < SECRET_MIN || s > SECRET_MAX)
		return false;
	if (!all_of(k + 4, p, "") || !all_of(dot + 1, s, "_-"))
		return false;
	*prefix_len = 4 + p;
	return true;
}

static void off(struct telemetry_config *c, const char *why)
{
	c->enabled = false;
	snprintf(c->why_off, sizeof(c->why_off), "%s", why);
}

static bool endpoint_ok(struct telemetry_config *c, const char *url)
{
	size_t n = strlen(url);
	bool https = strncasecmp(url, "https://", 8) == 0;
	bool http = strncasecmp(url, "http://", 7) == 0;

	if (n >= sizeof(c->endpoint)) {
		off(c, "LLM_OBSERVER_ENDPOINT is longer than 511 bytes");
		return false;
	}
	if (!https && !(http && c->insecure)) {
		off(c, http ? "LLM_OBSERVER_ENDPOINT is not https (plain http only with --telemetry-insecure)"
			    : "LLM_OBSERVER_ENDPOINT is not an https:// URL");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)url[i] <= ' ' || url[i] == '?' || url[i] == '#') {
			off(c, "LLM_OBSERVER_ENDPOINT has spaces, a query or a fragment");
			return false;
		}
		/* user:password@host would be logged and kept with the endpoint:
		 * the key is the only credential, and it travels in a header. */
		if (url[i] == '@') {
			off(c, "LLM_OBSERVER_ENDPOINT holds credentials (user@host): the API key is the only one");
			return false;
		}
	}
	if (n == (size_t)(https ? 8 : 7)) {
		off(c, "LLM_OBSERVER_ENDPOINT has no host");
		return false;
	}
	while (n && url[n - 1] == '/')
		n--;
	memcpy(c->endpoint, url, n);
	c->endpoint[n] = '\0';
	return true;
}

static void derive_hash_key(struct telemetry_config *c)
{
	static const char label[] = "llmobs.telemetry.v1 hash key";
	unsigned int len = sizeof(c->hash_key);

	HMAC(EVP_sha256(), c->api_key, (int)strlen(c->api_key), (const unsigned char *)label,
	     sizeof(label) - 1, c->hash_key, &len);
}

void telemetry_config_load(struct telemetry_config *c,
			   const char *(*get)(const char *name, void *ctx), void *ctx,
			   bool insecure, bool *key_ok)
{
	const char *enabled = get("LLM_OBSERVER_ENABLED", ctx);
	const char *key = get("LLM_OBSERVER_API_KEY", ctx);
	const char *url = get("LLM_OBSERVER_ENDPOINT", ctx);
	const char *ca = get("LLM_OBSERVER_CA_FILE", ctx);
	const char *flush = get("LLM_OBSERVER_FLUSH_SECONDS", ctx);
	size_t plen = 0;

	memset(c, 0, sizeof(*c));
	c->insecure = insecure;
	c->flush_seconds = TELEMETRY_FLUSH_DEFAULT_S;
	*key_ok = false;
	if (key && key[0]) {
		if (strlen(key) < sizeof(c->api_key) && key_valid(key, &plen)) {
			snprintf(c->api_key, sizeof(c->api_key), "%s", key);
			memcpy(c->key_prefix, key, plen);
			c->key_prefix[plen] = '\0';
			derive_hash_key(c);
			*key_ok = true;
		}
	}
	if (!enabled || strcmp(enabled, "true") != 0) {
		off(c, enabled ? "LLM_OBSERVER_ENABLED is not \"true\"" :
				 "LLM_OBSERVER_ENABLED is not set (telemetry is opt-in)");
		return;
	}
	if (!key || !key[0]) {
		off(c, "LLM_OBSERVER_API_KEY is not set");
		return;
	}
	if (!*key_ok) {
		off(c, "LLM_OBSERVER_API_KEY is not of the form lok_<prefix>.<secret>");
		return;
	}
	if (!url || !url[0]) {
		off(c, "LLM_OBSERVER_ENDPOINT is not set");
		return;
	}
	if (!endpoint_ok(c, url))
		return;
	if (ca && ca[0]) {
		if (strlen(ca) >= sizeof(c->ca_file)) {
			off(c, "LLM_OBSERVER_CA_FILE is longer than 511 bytes");
			return;
		}
		snprintf(c->ca_file, sizeof(c->ca_file), "%s", ca);
	}
	if (flush && flush[0]) {
		char *end;
		long v = strtol(flush, &end, 10);

		if (*end || v < 1 || v > TELEMETRY_FLUSH_MAX_S) {
			off(c, "LLM_OBSERVER_FLUSH_SECONDS is not a number of seconds from 1 to 3600");
			return;
		}
		c->flush_seconds = (int)v;
	}
	c->enabled = true;
	c->why_off[0] = '\0';
}

const char *telemetry_config_key_label(const struct telemetry_config *c, char *buf, size_t size)
{
	snprintf(buf, size, "%s.…", c->key_prefix[0] ? c->key_prefix : "lok_?");
	return buf;
}

void telemetry_hash(const struct telemetry_config *c, const char *domain, const char *value,
		    char out[33])
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	unsigned char mac[32];
	size_t len = 0;
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *h = hmac ? EVP_MAC_CTX_new(hmac) : NULL;

	/* The domain and its NUL, then the value: one MAC over both. */
	if (!h || !EVP_MAC_init(h, c->hash_key, sizeof(c->hash_key), params) ||
	    !EVP_MAC_update(h, (const unsigned char *)domain, strlen(domain) + 1) ||
	    !EVP_MAC_update(h, (const unsigned char *)value, strlen(value)) ||
	    !EVP_MAC_final(h, mac, &len, sizeof(mac)) || len != sizeof(mac))
		memset(mac, 0, sizeof(mac));
	EVP_MAC_CTX_free(h);
	EVP_MAC_free(hmac);
	for (int i = 0; i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

void telemetry_config_wipe(struct telemetry_config *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}
