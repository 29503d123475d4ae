/* libyaml's document loader with the project's error shape, shared by the
 * config readers (daemon_config.c, budget.c): text in, a node tree out, or
 * "name:line: what" in err. Kept here, below both, so that the daemon's
 * config and the budgets it holds are read from one parse. */
#ifndef LLMOBS_YAML_DOC_H
#define LLMOBS_YAML_DOC_H

#include <stddef.h>
#include <yaml.h>

/* Parses the first document of text into doc (yaml_document_delete()
 * after). Returns 0, -ENOMEM, or -EINVAL with err set. */
int yaml_doc_load(const char *name, const char *text, size_t len, yaml_document_t *doc,
		  char *err, size_t errsize);

/* A scalar node's text, NULL for anything else (or no node). */
const char *yaml_doc_scalar(const yaml_node_t *n);

/* Writes "name:line: msg" (line of n, 0 without one) to err; returns
 * -EINVAL so that a caller can `return yaml_doc_fail(...)`. */
__attribute__((format(printf, 5, 6)))
int yaml_doc_fail(char *err, size_t errsize, const char *name, const yaml_node_t *n,
		  const char *fmt, ...);

#endif
