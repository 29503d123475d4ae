/* Provider recognition and extraction (user/3-llm/provider.c, provider_usage.c)
 * for each API. Input: [api][mode][status: 2 bytes] then, by mode:
 *   0  classify: "METHOD\nPATH\nHOST\n" then the request body;
 *   1  a whole response body (exact-size buffer, no NUL after it);
 *   2  a streamed body: the bytes go through the SSE parser, as in the
 *      daemon, and each event through provider_stream_event.
 * Checks: results are 0 or the documented error, strings stay terminated
 * within their arrays, counts are non-negative, a classified call names a
 * real API and provider. */
#include <errno.h>
#include "fuzz.h"
#include "log.h"
#include "provider.h"
#include "sse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_verbosity = -1;
	return 0;
}

static void check_response(const struct llm_response_info *r)
{
	const struct llm_usage *u = &r->usage;

	FUZZ_CHECK(strnlen(r->model, sizeof(r->model)) < sizeof(r->model), "model");
	FUZZ_CHECK(strnlen(r->error, sizeof(r->error)) < sizeof(r->error), "error");
	FUZZ_CHECK(u->input_tokens >= 0 && u->cached_input_tokens >= 0 &&
		   u->cache_write_tokens >= 0 && u->cache_write_1h_tokens >= 0 &&
		   u->output_tokens >= 0 && u->reasoning_tokens >= 0,
		   "negative count");
}

static void classify(const uint8_t *p, size_t len)
{
	const char *f[3];
	size_t flen[3], i;
	struct llm_request_info req;
	char *buf = fuzz_dup(p, len), *s = buf, *end = buf + len, *nl;
	int r;

	for (i = 0; i < 3; i++) {
		nl = memchr(s, '\n', (size_t)(end - s));
		f[i] = s;
		flen[i] = nl ? (size_t)(nl - s) : (size_t)(end - s);
		s = nl ? nl + 1 : end;
	}
	memset(&req, 0, sizeof(req));
	r = provider_classify_request(f[0], flen[0], f[1], flen[1], f[2], flen[2], s,
				      (size_t)(end - s), &req);
	FUZZ_CHECK(r == 0 || r == -ENOENT, "classify returned %d", r);
	if (r == 0) {
		FUZZ_CHECK(req.api > LLM_API_NONE && req.api < LLM_API__MAX, "api %d", req.api);
		FUZZ_CHECK(req.provider[0] && strnlen(req.provider, sizeof(req.provider)) <
			   sizeof(req.provider), "provider");
		FUZZ_CHECK(strnlen(req.model, sizeof(req.model)) < sizeof(req.model), "model");
	}
	free(buf);
}

struct stream_ctx {
	enum llm_api api;
	struct llm_response_info *out;
};

static int on_event(void *ctx, const char *event, size_t event_len, const char *data,
		    size_t data_len, bool truncated)
{
	struct stream_ctx *sc = ctx;
	int r = provider_stream_event(sc->api, event, event_len, data, data_len, sc->out);

	FUZZ_CHECK(r == 0 || r == -EINVAL, "stream event returned %d", r);
	check_response(sc->out);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	/* one past the last API: an unknown value must be refused cleanly */
	enum llm_api api = (enum llm_api)(fuzz_u8(&in) % (LLM_API__MAX + 1));
	uint8_t mode = fuzz_u8(&in) % 3;
	int status = fuzz_u16(&in) % 600, r;
	struct llm_response_info resp;
	struct stream_ctx sc = { api, &resp };
	struct sse_parser p;
	char *buf;

	memset(&resp, 0, sizeof(resp));
	FUZZ_CHECK(llm_api_name(api) != NULL, "api name");
	switch (mode) {
	case 0:
		classify(in.p, in.len);
		break;
	case 1:
		buf = fuzz_dup(in.p, in.len);
		r = provider_parse_body(api, status, buf, in.len, &resp);
		FUZZ_CHECK(r == 0 || r == -EINVAL, "parse_body returned %d", r);
		check_response(&resp);
		free(buf);
		break;
	default:
		sse_init(&p, 256 * 1024);
		buf = fuzz_dup(in.p, in.len);
		r = sse_feed(&p, buf, in.len, on_event, &sc);
		FUZZ_CHECK(r == 0, "sse_feed returned %d", r);
		free(buf);
		sse_free(&p);
		break;
	}
	return 0;
}
