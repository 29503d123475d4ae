/* cgroup path -> runtime, container id, pod uid. The shapes, by runtime
 * and cgroup driver (the last container segment wins: podman and some
 * runtimes nest a "container" or "init" cgroup inside the scope):
 *   docker      /docker/<id>                    (cgroupfs)
 *               /system.slice/docker-<id>.scope (systemd)
 *   containerd  .../cri-containerd-<id>.scope   (systemd, Kubernetes)
 *   cri-o       .../crio-<id>.scope             (crio-conmon-<id> is the monitor, not the container)
 *   podman      .../libpod-<id>.scope, /libpod_parent/libpod-<id>
 *   Kubernetes  .../kubepods-<qos>-pod<uid with _>.slice/... (systemd)
 *               /kubepods/<qos>/pod<uid>/<id>     (cgroupfs: the runtime is not said)
 * Anything else (a host service, a user session) is no container.
 *
 * A pod is believed only outside a user's delegated subtree
 * (.../user@<uid>.service/...): there any user may create cgroups, and
 * one named like a kubelet's pod would put their spend under another
 * team's pod. Container ids stay: rootless podman and docker live there,
 * and naming a container of one's own takes nothing from anyone. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include "cgroup_path.h"

#define CGROUP_PATH_MAX	4096

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_hex(s[i]))
			return false;
	return true;
}

static bool seg_has_prefix(const char *s, size_t n, const char *p)
{
	size_t pl = strlen(p);

	return n >= pl && memcmp(s, p, pl) == 0;
}

/* A pod uid, dashes (cgroupfs) or underscores (systemd slices), at s. */
static bool pod_uid_at(const char *s, size_t n, char out[CGROUP_POD_UID_LEN + 1])
{
	if (n < CGROUP_POD_UID_LEN)
		return false;
	for (size_t i = 0; i < CGROUP_POD_UID_LEN; i++) {
		bool sep = i == 8 || i == 13 || i == 18 || i == 23;

		if (sep ? (s[i] != '-' && s[i] != '_') : !is_hex(s[i]))
			return false;
		out[i] = sep ? '-' : s[i];
	}
	out[CGROUP_POD_UID_LEN] = '\0';
	return true;
}

/* "pod<uid>" as a whole segment, or after a '-' in a slice name. */
static bool segment_pod(const char *s, size_t n, char out[CGROUP_POD_UID_LEN + 1])
{
	for (size_t i = 0; i + 3 + CGROUP_POD_UID_LEN <= n; i++) {
		if ((i == 0 || s[i - 1] == '-') && memcmp(s + i, "pod", 3) == 0 &&
		    pod_uid_at(s + i + 3, n - i - 3, out)) {
			size_t end = i + 3 + CGROUP_POD_UID_LEN;

			if (end == n || s[end] == '.')
				return true;
		}
	}
	return false;
}

/* "user@<digits>.service": systemd delegates this subtree to the user. */
static bool segment_user_delegated(const char *s, size_t n)
{
	size_t i = 5;

	if (n < 14 || memcmp(s, "user@", 5) != 0 || memcmp(s + n - 8, ".service", 8) != 0)
		return false;
	for (; i < n - 8; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static const struct {
	const char *prefix;
	const char *runtime;
} scope_prefixes[] = {
	{ "cri-containerd-", "containerd" },
	{ "docker-", "docker" },
	{ "crio-", "cri-o" },
	{ "libpod-", "podman" },
};

/* A container segment: "<prefix><id>.scope", "<prefix><id>", or a bare id
 * (runtime from the parent: docker's cgroupfs layout). */
static bool segment_container(const char *s, size_t n, const char *parent, size_t pn,
			      struct cgroup_ident *out)
{
	if (n > 6 && memcmp(s + n - 6, ".scope", 6) == 0)
		n -= 6;
	if (n == CGROUP_ID_LEN && all_hex(s, n)) {
		memcpy(out->container_id, s, n);
		out->container_id[n] = '\0';
		out->runtime[0] = '\0';
		if (pn == 6 && memcmp(parent, "docker", 6) == 0)
			strcpy(out->runtime, "docker");
		else if (pn == 13 && memcmp(parent, "libpod_parent", 13) == 0)
			strcpy(out->runtime, "podman");
		return true;
	}
	for (size_t i = 0; i < sizeof(scope_prefixes) / sizeof(scope_prefixes[0]); i++) {
		size_t pl = strlen(scope_prefixes[i].prefix);

		if (!seg_has_prefix(s, n, scope_prefixes[i].prefix) || n - pl != CGROUP_ID_LEN ||
		    !all_hex(s + pl, CGROUP_ID_LEN))
			continue;	/* crio-conmon-<id>, libpod-conmon-<id>: not hex */
		memcpy(out->container_id, s + pl, CGROUP_ID_LEN);
		out->container_id[CGROUP_ID_LEN] = '\0';
		strcpy(out->runtime, scope_prefixes[i].runtime);
		return true;
	}
	return false;
}

int cgroup_path_parse(const char *path, size_t len, struct cgroup_ident *out)
{
	const char *parent = "", *p = path, *end = path + len;
	size_t pn = 0;
	char uid[CGROUP_POD_UID_LEN + 1];
	bool delegated = false;

	memset(out, 0, sizeof(*out));
	if (len > CGROUP_PATH_MAX)
		return -EINVAL;
	while (p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);

		if (n) {
			if (segment_user_delegated(p, n))
				delegated = true;
			else if (segment_pod(p, n, uid)) {
				if (!delegated)
					memcpy(out->pod_uid, uid, sizeof(uid));
			} else
				segment_container(p, n, parent, pn, out);
			parent = p;
			pn = n;
		}
		p += n + 1;
	}
	return out->container_id[0] || out->pod_uid[0] ? 1 : 0;
}

int cgroup_file_pick(const char *text, size_t len, const char **path, size_t *plen)
{
	const char *p = text, *end = text + len, *v2 = NULL;
	size_t v2len = 0;
	struct cgroup_ident id;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		const char *c1 = memchr(p, ':', (size_t)(le - p));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(le - c1 - 1)) : NULL;

		if (c2) {
			const char *cp = c2 + 1;
			size_t cn = (size_t)(le - cp);

			if (c1 - p == 1 && p[0] == '0' && c2 == c1 + 1) {
				v2 = cp;
				v2len = cn;
			}
			if (cgroup_path_parse(cp, cn, &id) > 0) {
				*path = cp;
				*plen = cn;
				return 0;
			}
		}
		p = le + 1;
	}
	if (!v2)
		return -ENOENT;
	*path = v2;
	*plen = v2len;
	return 0;
}
