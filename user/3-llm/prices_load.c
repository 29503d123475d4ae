/* Price table JSON -> struct price_table. Two formats come in: the data of
 * @pydantic/genai-prices (a JSON array of providers, prices_genai.c) and our
 * own ({"models": {name: entry}}, documented in data/prices-overrides.json's
 * "_doc"), used for the overrides and for hand-written tables. The embedded
 * table is the source's data with the overrides applied. A table is
 * validated as a whole at load: a daemon that prices with a half-read table
 * would report wrong money silently. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "log.h"
#include "price_table.h"

extern const char llmobs_prices_json[];		/* the source's data, dumped */
extern const char llmobs_prices_overrides_json[];	/* data/prices-overrides.json */
extern const char llmobs_prices_origin[];	/* "@pydantic/genai-prices 0.1.8" */

#define PRICES_MAX_FILE_BYTES	(16u << 20)

const char *price_table_embedded_overrides(void)
{
	return llmobs_prices_overrides_json;
}

static int load_json(const char *json, size_t len, bool with_overrides,
		     const char *origin, struct price_table **out)
{
	struct price_table *t;
	bool genai;
	cJSON *root;
	int err;

	*out = NULL;
	root = cJSON_ParseWithLength(json, len);
	if (!root) {
		p_err("prices: not valid JSON (near byte %td)",
		      cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : (ptrdiff_t)-1);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		cJSON_Delete(root);
		return -ENOMEM;
	}
	genai = cJSON_IsArray(root);
	if (genai) {
		/* The source's data: our corrections belong on top of it. */
		err = prices_genai_load(root, t);
		if (!err && with_overrides)
			err = prices_apply_overrides(t, llmobs_prices_overrides_json,
						     strlen(llmobs_prices_overrides_json));
	} else if (cJSON_IsObject(root)) {
		err = prices_ours_load(root, t);
	} else {
		p_err("prices: the table must be a JSON object (ours) or array (genai-prices data)");
		err = -EINVAL;
	}
	cJSON_Delete(root);
	if (err) {
		price_table_free(t);
		return err;
	}
	snprintf(t->origin, sizeof(t->origin), "%s%s", origin,
		 with_overrides && genai && !strstr(origin, "overrides") ? " + overrides" : "");
	*out = t;
	return 0;
}

int price_table_load_json(const char *json, size_t len, struct price_table **out)
{
	return load_json(json, len, false, "(given)", out);
}

int price_table_load_default(struct price_table **out)
{
	char origin[128];

	snprintf(origin, sizeof(origin), "%s + overrides (embedded)", llmobs_prices_origin);
	return load_json(llmobs_prices_json, strlen(llmobs_prices_json), true, origin, out);
}

int price_table_apply_overrides(struct price_table *t, const char *json, size_t len)
{
	return prices_apply_overrides(t, json, len);
}

int price_table_load_file_bytes(const char *path, struct price_table **out, char **bytes,
				size_t *nbytes)
{
	size_t len = 0, n;
	char *buf;
	FILE *f;
	int err;

	*out = NULL;
	if (bytes)
		*bytes = NULL;
	f = fopen(path, "rb");
	if (!f) {
		err = -errno;
		p_err("prices: cannot open %s: %s", path, strerror(errno));
		return err;
	}
	buf = malloc(PRICES_MAX_FILE_BYTES + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	while ((n = fread(buf + len, 1, PRICES_MAX_FILE_BYTES + 1 - len, f)) > 0)
		len += n;
	err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (!err && len > PRICES_MAX_FILE_BYTES) {
		p_err("prices: %s is larger than %u bytes", path, PRICES_MAX_FILE_BYTES);
		err = -EFBIG;
	}
	/* A genai-prices data file gets our overrides, as the embedded one
	 * does; a table of our own format is taken as it is. */
	if (!err)
		err = load_json(buf, len, true, path, out);
	else if (err == -EIO)
		p_err("prices: cannot read %s", path);
	if (!err && bytes) {
		*bytes = buf;
		*nbytes = len;
		return 0;
	}
	free(buf);
	return err;
}

int price_table_load_file(const char *path, struct price_table **out)
{
	return price_table_load_file_bytes(path, out, NULL, NULL);
}

void price_table_installed_path(const char *db_path, char *buf, size_t size)
{
	const char *slash = db_path ? strrchr(db_path, '/') : NULL;

	if (slash)
		snprintf(buf, size, "%.*s/" PRICES_INSTALLED_NAME, (int)(slash - db_path), db_path);
	else
		snprintf(buf, size, PRICES_INSTALLED_NAME);
}

int price_table_load_in_force(const char *file, const char *db_path, struct price_table **out)
{
	char installed[4096];
	int err;

	if (file)
		return price_table_load_file(file, out);
	price_table_installed_path(db_path, installed, sizeof(installed));
	if (db_path && access(installed, F_OK) == 0) {
		err = price_table_load_file(installed, out);
		if (!err)
			return 0;
		/* `llmobs prices --update` validated it; a table broken since
		 * must not stop the daemon from recording. */
		p_err("prices: the installed table %s cannot be used (%s): using the embedded one",
		      installed, strerror(-err));
	}
	return price_table_load_default(out);
}
