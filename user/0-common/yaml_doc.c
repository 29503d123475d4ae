/* yaml_doc.h: libyaml's loader and error messages, for the config readers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include "yaml_doc.h"

int yaml_doc_load(const char *name, const char *text, size_t len, yaml_document_t *doc,
		  char *err, size_t errsize)
{
	yaml_parser_t p;
	int ret = 0;

	if (!yaml_parser_initialize(&p))
		return -ENOMEM;
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, doc)) {
		snprintf(err, errsize, "%s:%zu: %s", name, p.problem_mark.line + 1,
			 p.problem ? p.problem : "YAML syntax error");
		ret = p.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
	}
	yaml_parser_delete(&p);
	return ret;
}

const char *yaml_doc_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int yaml_doc_fail(char *err, size_t errsize, const char *name, const yaml_node_t *n,
		  const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errsize, "%s:%zu: %s", name, n ? n->start_mark.line + 1 : 0, msg);
	return -EINVAL;
}
