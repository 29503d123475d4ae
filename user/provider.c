/* Stub: filled in below. */
#include <errno.h>
#include <string.h>
#include "provider.h"

const char *llm_api_name(enum llm_api api)
{
	return "none";
}

int provider_classify_request(const char *method, size_t method_len,
			      const char *path, size_t path_len,
			      const char *host, size_t host_len,
			      const char *body, size_t body_len,
			      struct llm_request_info *out)
{
	return -ENOENT;
}

int provider_parse_body(enum llm_api api, int status, const char *body,
			size_t len, struct llm_response_info *out)
{
	return -EINVAL;
}

int provider_stream_event(enum llm_api api, const char *event, size_t event_len,
			  const char *data, size_t data_len,
			  struct llm_response_info *out)
{
	return -EINVAL;
}
