/* A batch over HTTPS with libcurl. Nothing here is hand-written HTTP or
 * TLS. The answer is read only for its status and Retry-After; its body is
 * discarded and cut off past a few KiB, so that a hostile endpoint cannot
 * make the daemon hold its data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <curl/curl.h>
#include <zlib.h>
#include "telemetry_send.h"
#include "telemetry_record.h"

#define MAX_ANSWER_BYTES	(16 * 1024)

int telemetry_gzip(const char *in, size_t len, unsigned char **out, size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap;
	unsigned char *buf;
	int rc;

	/* windowBits 15 + 16: a gzip wrapper rather than zlib's. */
	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, len) + 32;
	buf = malloc(cap);
	if (!buf) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*out_len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		free(buf);
		return -EIO;
	}
	*out = buf;
	return 0;
}

struct answer {
	size_t bytes;
	int64_t retry_after_s;
	char *keep;		/* the answer's first keep_size - 1 bytes, or NULL */
	size_t keep_size;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;

	if (a->keep && a->bytes + 1 < a->keep_size) {
		size_t k = a->keep_size - 1 - a->bytes;

		k = k < size * n ? k : size * n;
		memcpy(a->keep + a->bytes, p, k);
		a->keep[a->bytes + k] = '\0';
	}
	a->bytes += size * n;
	return a->bytes > MAX_ANSWER_BYTES ? 0 : size * n;	/* 0 aborts */
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct answer *a = ctx;
	size_t len = size * n;

	if (len > 12 && !strncasecmp(p, "retry-after:", 12)) {
		char v[32];
		size_t k = len - 12 < sizeof(v) - 1 ? len - 12 : sizeof(v) - 1;
		char *end;
		long s;

		memcpy(v, p + 12, k);
		v[k] = '\0';
		s = strtol(v, &end, 10);
		/* Seconds only; an HTTP date is treated as absent (backoff applies). */
		if (end != v && s >= 0)
			a->retry_after_s = s > 3600 ? 3600 : s;
	}
	return len;
}

static int on_progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct telemetry_send_opts *o = ctx;

	(void)dt, (void)dn, (void)ut, (void)un;
	return o->cancelled && o->cancelled(o->cancel_ctx) ? 1 : 0;
}

static void verdict_for(long status, struct telemetry_send_result *res)
{
	res->status = status;
	if (status >= 200 && status < 300) {
		res->verdict = TELEMETRY_SENT;
		return;
	}
	res->verdict = status == 408 || status == 429 || status >= 500 ? TELEMETRY_RETRY
								      : TELEMETRY_REJECTED;
	snprintf(res->error, sizeof(res->error), "HTTP %ld", status);
}

/* The list may hold a credential: wiped before it is freed. */
static void free_headers(struct curl_slist *headers)
{
	for (struct curl_slist *h = headers; h; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

void telemetry_post(const struct telemetry_post *p, const struct telemetry_send_opts *opts,
		    struct telemetry_send_result *res)
{
	struct answer a = { .retry_after_s = -1, .keep = p->answer, .keep_size = p->answer_size };
	CURL *curl;
	CURLcode rc;
	long status = 0;

	memset(res, 0, sizeof(*res));
	res->retry_after_s = -1;
	res->verdict = TELEMETRY_RETRY;
	if (p->answer && p->answer_size)
		p->answer[0] = '\0';
	curl = curl_easy_init();
	if (!curl) {
		free_headers(p->headers);
		snprintf(res->error, sizeof(res->error), "libcurl could not start");
		return;
	}
	curl_easy_setopt(curl, CURLOPT_URL, p->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, p->protocols);
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, TELEMETRY_SDK_NAME "/" TELEMETRY_SDK_VERSION);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, p->headers);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)p->body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (opts && opts->ca_pem) {
		struct curl_blob blob = {
			.data = (void *)opts->ca_pem, .len = opts->ca_pem_len,
			.flags = CURL_BLOB_COPY,
		};

		curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
	} else if (p->ca_file && p->ca_file[0]) {
		curl_easy_setopt(curl, CURLOPT_CAINFO, p->ca_file);
	}
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 5000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
			 opts && opts->total_timeout_ms ? opts->total_timeout_ms : 20000L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &a);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &a);
	if (opts && opts->cancelled) {
		curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(curl, CURLOPT_XFERINFODATA, opts);
		curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	}
	/* Proxies: libcurl reads https_proxy / HTTPS_PROXY / NO_PROXY itself. */
	rc = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK || (rc == CURLE_WRITE_ERROR && status)) {
		verdict_for(status, res);
		res->retry_after_s = a.retry_after_s;
	} else {
		res->verdict = TELEMETRY_RETRY;
		res->status = status;
		snprintf(res->error, sizeof(res->error), "%s", curl_easy_strerror(rc));
	}
	curl_easy_cleanup(curl);
	free_headers(p->headers);
}

void telemetry_send(const struct telemetry_config *c, const struct telemetry_send_opts *opts,
		    const char *batch_id, const char *body, size_t len,
		    struct telemetry_send_result *res)
{
	struct curl_slist *h = NULL;
	unsigned char *gz = NULL;
	size_t gz_len = 0;
	char url[600], line[256];

	if (telemetry_gzip(body, len, &gz, &gz_len) < 0) {
		memset(res, 0, sizeof(*res));
		res->retry_after_s = -1;
		res->verdict = TELEMETRY_RETRY;
		snprintf(res->error, sizeof(res->error), "gzip failed");
		return;
	}
	snprintf(url, sizeof(url), "%s/v1/ingest", c->endpoint);
	snprintf(line, sizeof(line), "Authorization: Bearer %s", c->api_key);
	h = curl_slist_append(h, line);
	explicit_bzero(line, sizeof(line));	/* the bearer: copied into h */
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Content-Encoding: gzip");
	snprintf(line, sizeof(line), "Idempotency-Key: %s", batch_id);
	h = curl_slist_append(h, line);
	h = curl_slist_append(h, "Expect:");	/* no 100-continue round trip */
	telemetry_post(&(struct telemetry_post){
			.url = url, .headers = h, .body = gz, .len = gz_len,
			.protocols = c->insecure ? "http,https" : "https", .ca_file = c->ca_file,
		       }, opts, res);
	free(gz);
}

int telemetry_read_ca(const char *path, char **pem, size_t *len)
{
	FILE *f = fopen(path, "re");
	long n;

	*pem = NULL;
	*len = 0;
	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || n > TELEMETRY_CA_FILE_MAX_BYTES ||
	    fseek(f, 0, SEEK_SET)) {
		fclose(f);
		return -EINVAL;
	}
	*pem = malloc((size_t)n);
	if (!*pem || fread(*pem, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(*pem);
		*pem = NULL;
		return -EIO;
	}
	fclose(f);
	*len = (size_t)n;
	return 0;
}

int telemetry_backoff_s(int *backoff_s, int64_t retry_after_s)
{
	uint32_t r = 0;
	int delay;

	*backoff_s = *backoff_s ? *backoff_s * 2 : 1;
	if (*backoff_s > TELEMETRY_BACKOFF_MAX_S)
		*backoff_s = TELEMETRY_BACKOFF_MAX_S;
	/* Full jitter over the upper half: hosts that lost the endpoint
	 * together do not come back together. */
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = 0;
	delay = *backoff_s / 2 + (int)(r % (uint32_t)(*backoff_s / 2 + 1));
	return retry_after_s > delay ? (int)retry_after_s : delay;
}
