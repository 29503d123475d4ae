/* Pod and container names for a container id, read on the node without an
 * API server. In: the runtime, container id and pod uid from the cgroup
 * path (cgroup_path.h), and the host's root as the daemon sees it ("" on
 * the host, "/host" in a DaemonSet that mounts it there); out: namespace,
 * pod, container, image and the labels the runtime kept. Sources, in order:
 *   containerd  /run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/config.json
 *               (OCI annotations io.kubernetes.cri.*; no pod labels there)
 *   cri-o       /run/containers/storage/overlay-containers/<id>/userdata/config.json
 *               (annotations io.kubernetes.pod.*; the sandbox's config holds
 *               the pod labels, io.kubernetes.cri-o.Labels)
 *   docker      /var/lib/docker/containers/<id>/config.v2.json (Config.Labels:
 *               the container's own labels, cri-dockerd's io.kubernetes.*)
 *   kubelet     /var/lib/kubelet/pods/<uid>/: etc-hosts (the pod's hostname,
 *               its name unless spec.hostname is set), the service account
 *               volume's "namespace" file, containers/<name>/ (when it is one)
 * What none of these give: containerd pods' labels and annotations. */
#ifndef LLMOBS_K8S_META_H
#define LLMOBS_K8S_META_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "cgroup_path.h"

struct k8s_meta {
	char ns[64];
	char pod[254];
	char container[64];
	char image[256];
	cJSON *labels;		/* an object of string values, or NULL; the caller frees */
};

/* Fills m from whatever is readable under host_root. Returns 0 when
 * something was found, -ENOENT when nothing was. Reads at most
 * K8S_META_FILE_BYTES of any file, regular files only, never blocking. */
#define K8S_META_FILE_BYTES	(1024 * 1024)
int k8s_meta_read(const char *host_root, const struct cgroup_ident *id, struct k8s_meta *m);
void k8s_meta_free(struct k8s_meta *m);

/* A regular file's first size bytes into buf (NUL-terminated: size + 1
 * bytes). dirfd/path as openat(2). Returns the length or -errno. */
ssize_t k8s_meta_read_file(int dirfd, const char *path, char *buf, size_t size);

#endif
