/* Container id -> namespace, pod, container, image, labels, from the
 * runtimes' and the kubelet's files on the node (k8s_meta.h lists them).
 * Each file is opened non-blocking and must be a regular file, read up to
 * a cap and parsed with cJSON: the files belong to root on the host, but a
 * bounded read keeps even a damaged one from costing more than its cap. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "k8s_meta.h"

ssize_t k8s_meta_read_file(int dirfd, const char *path, char *buf, size_t size)
{
	struct stat st;
	size_t got = 0;
	int fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Copies src into dst of size, cut to fit and always terminated. */
static void copy_cut(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static cJSON *read_json(const char *host_root, const char *fmt, const char *id)
{
	char path[512], rel[256];
	char *buf;
	cJSON *j = NULL;
	ssize_t n;

	/* fmt is one of this file's paths with one %s for id: split there,
	 * so that no format string is built from data. */
	const char *at = strstr(fmt, "%s");

	if (!at || (size_t)snprintf(rel, sizeof(rel), "%.*s%s%s", (int)(at - fmt), fmt, id,
				   at + 2) >= sizeof(rel))
		return NULL;
	if ((size_t)snprintf(path, sizeof(path), "%s%s", host_root, rel) >= sizeof(path))
		return NULL;
	buf = malloc(K8S_META_FILE_BYTES + 1);
	if (!buf)
		return NULL;
	n = k8s_meta_read_file(AT_FDCWD, path, buf, K8S_META_FILE_BYTES);
	if (n > 0)
		j = cJSON_ParseWithLength(buf, (size_t)n);
	free(buf);
	return j;
}

static void copy_str(char *dst, size_t size, const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	if (!dst[0] && cJSON_IsString(v))
		snprintf(dst, size, "%s", v->valuestring);
}

/* Only string values, at most 64 of them: what a project rule may match. */
static cJSON *labels_from(const cJSON *obj)
{
	cJSON *out;
	const cJSON *it;
	int n = 0;

	if (!cJSON_IsObject(obj))
		return NULL;
	out = cJSON_CreateObject();
	cJSON_ArrayForEach(it, obj) {
		if (n++ >= 64)
			break;
		if (cJSON_IsString(it) && it->string)
			cJSON_AddStringToObject(out, it->string, it->valuestring);
	}
	return out;
}

static void from_containerd(const char *root, const char *id, struct k8s_meta *m)
{
	cJSON *j = read_json(root, "/run/containerd/io.containerd.runtime.v2.task/k8s.io/%s/config.json", id);
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, "annotations");

	copy_str(m->ns, sizeof(m->ns), a, "io.kubernetes.cri.sandbox-namespace");
	copy_str(m->pod, sizeof(m->pod), a, "io.kubernetes.cri.sandbox-name");
	copy_str(m->container, sizeof(m->container), a, "io.kubernetes.cri.container-name");
	copy_str(m->image, sizeof(m->image), a, "io.kubernetes.cri.image-name");
	cJSON_Delete(j);
}

static void from_crio(const char *root, const char *id, struct k8s_meta *m)
{
	static const char *const dirs[] = {
		"/run/containers/storage/overlay-containers/%s/userdata/config.json",
		"/var/lib/containers/storage/overlay-containers/%s/userdata/config.json",
	};
	const cJSON *a, *sb;
	cJSON *j = NULL, *sj, *lab;

	for (size_t i = 0; i < 2 && !j; i++)
		j = read_json(root, dirs[i], id);
	a = cJSON_GetObjectItemCaseSensitive(j, "annotations");
	copy_str(m->ns, sizeof(m->ns), a, "io.kubernetes.pod.namespace");
	copy_str(m->pod, sizeof(m->pod), a, "io.kubernetes.pod.name");
	copy_str(m->container, sizeof(m->container), a, "io.kubernetes.container.name");
	copy_str(m->image, sizeof(m->image), a, "io.kubernetes.cri-o.ImageName");
	sb = cJSON_GetObjectItemCaseSensitive(a, "io.kubernetes.cri-o.SandboxID");
	/* The sandbox's config: its Labels annotation is the pod's labels. */
	if (!m->labels && cJSON_IsString(sb) && strlen(sb->valuestring) == CGROUP_ID_LEN &&
	    !strchr(sb->valuestring, '/')) {
		sj = NULL;
		for (size_t i = 0; i < 2 && !sj; i++)
			sj = read_json(root, dirs[i], sb->valuestring);
		a = cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(sj, "annotations"), "io.kubernetes.cri-o.Labels");
		if (cJSON_IsString(a)) {
			lab = cJSON_Parse(a->valuestring);
			m->labels = labels_from(lab);
			cJSON_Delete(lab);
		}
		cJSON_Delete(sj);
	}
	cJSON_Delete(j);
}

static void from_docker(const char *root, const char *id, struct k8s_meta *m)
{
	cJSON *j = read_json(root, "/var/lib/docker/containers/%s/config.v2.json", id);
	const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(j, "Config");
	const cJSON *l = cJSON_GetObjectItemCaseSensitive(cfg, "Labels");

	copy_str(m->ns, sizeof(m->ns), l, "io.kubernetes.pod.namespace");
	copy_str(m->pod, sizeof(m->pod), l, "io.kubernetes.pod.name");
	copy_str(m->container, sizeof(m->container), l, "io.kubernetes.container.name");
	copy_str(m->image, sizeof(m->image), cfg, "Image");
	if (!m->labels)
		m->labels = labels_from(l);
	cJSON_Delete(j);
}

/* The last "IP<ws>name" line of the kubelet's hosts file for the pod. */
static void hosts_name(const char *buf, char *out, size_t size)
{
	const char *line = buf;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);
		char tmp[512], ip[256], name[256];

		if (n && n < sizeof(tmp) && line[0] != '#') {
			memcpy(tmp, line, n);
			tmp[n] = '\0';
			if (sscanf(tmp, "%255s %255s", ip, name) == 2 && strcmp(name, "localhost") &&
			    strncmp(name, "ip6-", 4) && strchr(ip, '.'))
				copy_cut(out, size, name);
		}
		line = nl ? nl + 1 : NULL;
	}
}

static void from_kubelet(const char *root, const char *uid, struct k8s_meta *m)
{
	char dir[512], path[1024], buf[4096], only[64] = "";
	struct dirent *de;
	int count = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/var/lib/kubelet/pods/%s", root, uid);
	snprintf(path, sizeof(path), "%s/etc-hosts", dir);
	if (!m->pod[0] && k8s_meta_read_file(AT_FDCWD, path, buf, sizeof(buf) - 1) > 0)
		hosts_name(buf, m->pod, sizeof(m->pod));
	snprintf(path, sizeof(path), "%s/volumes/kubernetes.io~projected", dir);
	if (!m->ns[0] && (d = opendir(path))) {
		while ((de = readdir(d)) && !m->ns[0]) {
			char f[1024];
			ssize_t n;

			if (de->d_name[0] == '.')
				continue;
			if ((size_t)snprintf(f, sizeof(f), "%s/%s/namespace", path, de->d_name) >=
			    sizeof(f))
				continue;
			n = k8s_meta_read_file(AT_FDCWD, f, buf, sizeof(m->ns) - 1);
			if (n > 0) {
				buf[strcspn(buf, "\n")] = '\0';
				copy_cut(m->ns, sizeof(m->ns), buf);
			}
		}
		closedir(d);
	}
	snprintf(path, sizeof(path), "%s/containers", dir);
	if (!m->container[0] && (d = opendir(path))) {
		while ((de = readdir(d)) && count < 2)
			if (de->d_name[0] != '.' && ++count == 1)
				copy_cut(only, sizeof(only), de->d_name);
		closedir(d);
		if (count == 1)	/* with sidecars, which one is not said here */
			memcpy(m->container, only, sizeof(only));
	}
}

int k8s_meta_read(const char *host_root, const struct cgroup_ident *id, struct k8s_meta *m)
{
	const char *rt = id->runtime, *cid = id->container_id;

	memset(m, 0, sizeof(*m));
	if (!host_root)
		host_root = "";
	if (cid[0]) {
		if (!rt[0] || !strcmp(rt, "containerd"))
			from_containerd(host_root, cid, m);
		if (!rt[0] || !strcmp(rt, "cri-o") || !strcmp(rt, "podman"))
			from_crio(host_root, cid, m);
		if (!rt[0] || !strcmp(rt, "docker"))
			from_docker(host_root, cid, m);
	}
	if (id->pod_uid[0])
		from_kubelet(host_root, id->pod_uid, m);
	return m->ns[0] || m->pod[0] || m->container[0] || m->image[0] || m->labels ? 0 : -ENOENT;
}

void k8s_meta_free(struct k8s_meta *m)
{
	cJSON_Delete(m->labels);
	m->labels = NULL;
}
