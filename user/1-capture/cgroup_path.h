/* Container and pod identity from a cgroup path, as the runtimes shape
 * them (/proc/PID/cgroup). In: one path such as
 * "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/
 * cri-containerd-<64 hex>.scope"; out: the runtime's name, the container
 * id and the pod uid. Pure string work, no file access, so that it can be
 * tested and fuzzed on its own. */
#ifndef LLMOBS_CGROUP_PATH_H
#define LLMOBS_CGROUP_PATH_H

#include <stddef.h>

#define CGROUP_ID_LEN		64	/* a container id: 64 lower-case hex */
#define CGROUP_POD_UID_LEN	36	/* 8-4-4-4-12, dashes */

struct cgroup_ident {
	char runtime[16];			/* "docker", "containerd", "cri-o",
						 * "podman"; "" when not said by the
						 * path (a cgroupfs-driver kubelet) */
	char container_id[CGROUP_ID_LEN + 1];	/* "" none */
	char pod_uid[CGROUP_POD_UID_LEN + 1];	/* "" not a Kubernetes pod */
};

/* Parses path (len bytes, not NUL-terminated). Returns 1 when a container
 * or a pod was recognised, 0 when the path is a host process's (nothing
 * filled but zeroes), -EINVAL on a path too long to be a cgroup's. */
int cgroup_path_parse(const char *path, size_t len, struct cgroup_ident *out);

/* The unified (v2) line of /proc/PID/cgroup's contents, else the first v1
 * line whose path names a container. Returns 0 with *path, *len set, or
 * -ENOENT. */
int cgroup_file_pick(const char *text, size_t len, const char **path, size_t *plen);

#endif
