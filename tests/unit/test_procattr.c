/* Attribution (user/1-capture/cgroup_path.c, app_name.c, k8s_meta.c,
 * procattr.c): cgroup path shapes of each runtime, application names of
 * interpreters, and a whole resolve against a fake /proc and node root
 * built in a temporary directory, with a canary in the cmdline and the
 * environment that must never reach the record. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "app_name.h"
#include "cache_hash.h"
#include "cgroup_path.h"
#include "procattr.h"
#include "record.h"
#include "stats.h"

#define ID64 "4f1c2b8e9d0a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c"
#define ID64B "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_cgroup_shapes(void **state)
{
	static const struct {
		const char *path;
		int ret;
		const char *runtime, *id, *pod;
	} cases[] = {
		{ "/docker/" ID64, 1, "docker", ID64, "" },
		{ "/system.slice/docker-" ID64 ".scope", 1, "docker", ID64, "" },
		{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
		  "1f2e3d4c_5b6a_4978_8695_a4b3c2d1e0f9.slice/cri-containerd-" ID64 ".scope",
		  1, "containerd", ID64, "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9" },
		{ "/kubepods.slice/kubepods-pod1f2e3d4c_5b6a_4978_8695_a4b3c2d1e0f9.slice/crio-"
		  ID64 ".scope", 1, "cri-o", ID64, "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9" },
		/* conmon watches the container: it is not it */
		{ "/kubepods.slice/kubepods-pod1f2e3d4c_5b6a_4978_8695_a4b3c2d1e0f9.slice/crio-conmon-"
		  ID64 ".scope", 1, "", "", "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9" },
		{ "/kubepods/besteffort/pod1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9/" ID64, 1, "", ID64,
		  "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9" },
		{ "/machine.slice/libpod-" ID64 ".scope/container", 1, "podman", ID64, "" },
		{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-" ID64
		  ".scope", 0, "", "", "" },
		{ "/libpod_parent/" ID64, 1, "podman", ID64, "" },
		/* a user may name cgroups in their own subtree: no pod from there */
		{ "/user.slice/user-1000.slice/user@1000.service/kubepods.slice/kubepods-pod"
		  "1f2e3d4c_5b6a_4978_8695_a4b3c2d1e0f9.slice/cri-containerd-" ID64 ".scope",
		  1, "containerd", ID64, "" },
		{ "/user.slice/user-1000.slice/user@1000.service/kubepods-pod"
		  "1f2e3d4c_5b6a_4978_8695_a4b3c2d1e0f9.slice", 0, "", "", "" },
		/* rootless podman keeps its container */
		{ "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" ID64
		  ".scope", 1, "podman", ID64, "" },
		/* nested: the innermost container segment wins */
		{ "/docker/" ID64B "/docker/" ID64, 1, "docker", ID64, "" },
		{ "/user.slice/user-1000.slice/session-3.scope", 0, "", "", "" },
		{ "/", 0, "", "", "" },
		{ "", 0, "", "", "" },
		{ "/docker/" ID64 "0", 0, "", "", "" },			/* 65 hex: no id */
		{ "/docker/4F1C2B8E9D0A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F4A3B2C", 0, "", "", "" },
		{ "/kubepods/pod1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f/x", 0, "", "", "" },	/* short uid */
		{ "/x/apod1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9", 0, "", "", "" },	/* not after '-' */
	};
	struct cgroup_ident id;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret = cgroup_path_parse(cases[i].path, strlen(cases[i].path), &id);

		if (ret != cases[i].ret || strcmp(id.runtime, cases[i].runtime) ||
		    strcmp(id.container_id, cases[i].id) || strcmp(id.pod_uid, cases[i].pod))
			fail_msg("case %zu %s: ret %d runtime '%s' id '%s' pod '%s'", i,
				 cases[i].path, ret, id.runtime, id.container_id, id.pod_uid);
	}
}

static void test_cgroup_limits_and_file(void **state)
{
	char *big = malloc(8192);
	const char *text = "12:pids:/docker/" ID64 "\n0::/\n";
	const char *v2 = "0::/system.slice/docker-" ID64 ".scope\n";
	const char *host = "1:name=systemd:/init.scope\n0::/init.scope\n";
	const char *path;
	struct cgroup_ident id;
	size_t n;

	assert_non_null(big);
	memset(big, '/', 8192);
	assert_int_equal(cgroup_path_parse(big, 8192, &id), -EINVAL);
	free(big);
	/* hybrid hierarchy: the v1 line that names a container wins */
	assert_int_equal(cgroup_file_pick(text, strlen(text), &path, &n), 0);
	assert_int_equal(n, strlen("/docker/" ID64));
	assert_int_equal(cgroup_file_pick(v2, strlen(v2), &path, &n), 0);
	assert_int_equal(cgroup_path_parse(path, n, &id), 1);
	assert_string_equal(id.runtime, "docker");
	assert_int_equal(cgroup_file_pick(host, strlen(host), &path, &n), 0);
	assert_int_equal(n, strlen("/init.scope"));
	assert_int_equal(cgroup_file_pick("garbage", 7, &path, &n), -ENOENT);
}

/* package.json files of a fake tree, for app_name's reader */
static const struct {
	const char *path, *body;
} pkg_files[] = {
	{ "/usr/lib/node_modules/@google/gemini-cli/package.json",
	  "{\"name\":\"@google/gemini-cli\",\"version\":\"0.1.0\"}" },
	{ "/srv/app/package.json", "{\"name\":\"billing-bot\"}" },
	{ "/srv/broken/package.json", "{\"name\": 12" },
};

static ssize_t fake_read(void *ctx, const char *path, char *buf, size_t size)
{
	int *calls = ctx;

	(*calls)++;
	for (size_t i = 0; i < sizeof(pkg_files) / sizeof(pkg_files[0]); i++)
		if (!strcmp(path, pkg_files[i].path)) {
			size_t n = strlen(pkg_files[i].body);

			n = n < size ? n : size;
			memcpy(buf, pkg_files[i].body, n);
			return (ssize_t)n;
		}
	return -ENOENT;
}

static void test_app_names(void **state)
{
	static const struct {
		const char *argv[6];
		const char *exe, *cwd, *want;
	} cases[] = {
		{ { "node", "/usr/bin/gemini", "-p", "hi" }, "/usr/bin/node", "/", "gemini" },
		{ { "node", "--require", "/x/hook.js", "/usr/lib/node_modules/@google/gemini-cli/dist/index.js" },
		  "/usr/bin/node", "/", "gemini-cli" },
		{ { "node", "dist/index.js" }, "/usr/local/bin/node", "/srv/app", "billing-bot" },
		{ { "node", "/srv/broken/main.js" }, "/usr/bin/node", "/", "broken" },	/* bad JSON: the directory */
		{ { "node", "-e", "fetch(1)" }, "/usr/bin/node", "/", "node" },
		{ { "node" }, "/usr/bin/node", "/", "node" },
		{ { "bun", "run", "/srv/app/server.ts" }, "/usr/bin/bun", "/", "billing-bot" },
		{ { "deno", "run", "-A", "agent.ts" }, "/usr/bin/deno", "/", "agent" },
		{ { "python3", "-m", "openai.cli", "api" }, "/usr/bin/python3.11", "/", "openai" },
		{ { "python3", "-u", "/usr/local/bin/aider", "--model", "x" }, "/usr/bin/python3.11", "/", "aider" },
		{ { "python3", "-W", "ignore", "/opt/bot/main.py" }, "/usr/bin/python3.11", "/", "bot" },
		{ { "python3", "-c", "import x" }, "/usr/bin/python3.11", "/", "python3.11" },
		{ { "java", "-Xmx1g", "-jar", "/opt/app/summarizer.jar" }, "/usr/lib/jvm/bin/java", "/", "summarizer" },
		{ { "java", "-cp", "/opt/lib/*", "com.example.ChatMain" }, "/usr/lib/jvm/bin/java", "/", "ChatMain" },
		{ { "ruby", "/opt/agent.rb" }, "/usr/bin/ruby", "/", "agent" },
		{ { "/usr/bin/curl", "-s", "https://x" }, "/usr/bin/curl", "/", "curl" },
		{ { "weird name!" }, "", "/", "weird_name_" },
		/* inline code never names the app, whatever the flag's cluster:
		 * it may hold a key (review finding) */
		{ { "node", "-pe", "fetch('x',{headers:{Authorization:'Bearer sk-proj-AbC'}})" },
		  "/usr/bin/node", "/", "node" },
		{ { "python3", "-uc", "import os; k='sk-ant-api03-SECRET'" }, "/usr/bin/python3.11", "/",
		  "python3.11" },
		{ { "php", "-r", "$k='sk-ant-api03-SECRETSECRET';" }, "/usr/bin/php8.2", "/", "php8.2" },
		{ { "perl", "-ne", "print" }, "/usr/bin/perl", "/", "perl" },
		{ { "deno", "eval", "console.log(Deno.env.get('KEY'))" }, "/usr/bin/deno", "/", "deno" },
		{ { "node", "x = 'sk-secret'; run()" }, "/usr/bin/node", "/", "node" },
	};
	char out[APP_NAME_MAX], cmd[512];
	int calls = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = 0;

		for (int a = 0; a < 6 && cases[i].argv[a]; a++) {
			size_t l = strlen(cases[i].argv[a]) + 1;

			memcpy(cmd + n, cases[i].argv[a], l);
			n += l;
		}
		assert_int_equal(app_name_derive(cmd, n, cases[i].exe, cases[i].cwd, fake_read,
						 &calls, out), 0);
		if (strcmp(out, cases[i].want))
			fail_msg("case %zu: '%s', want '%s'", i, out, cases[i].want);
	}
	/* the package.json climb is bounded */
	calls = 0;
	app_name_derive("node\0/a/b/c/d/e/f/g/h/i/j/k/l/index.js", 39, "/usr/bin/node", "/",
			fake_read, &calls, out);
	assert_true(calls <= 8);
	assert_int_equal(app_name_derive("", 0, "", "/", NULL, NULL, out), -ENOENT);
}

/* A fake node: <dir>/proc/4242 and <dir>/host (the node's root). */
static char tmpl[64];

#define PUTS(rel, str) put(rel, str, strlen(str))

static void put(const char *rel, const char *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpl, rel);
	for (char *p = path + strlen(tmpl) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static void link_to(const char *rel, const char *target)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpl, rel);
	unlink(path);
	assert_int_equal(symlink(target, path), 0);
}

static uint64_t test_hash(void *ctx, const void *data, size_t len)
{
	return cache_hash_once(ctx, data, len);
}

static const char cmdline[] = "node\0/usr/bin/gemini\0--api-key\0sk-CANARY-cmdline-0123456789\0";
static const char environ_ok[] = "PATH=/bin\0OPENAI_API_KEY=sk-CANARY-environ-987\0LLMOBS_PROJECT=search-ranking\0";

static void build_node(void)
{
	char rootfs[256];

	strcpy(tmpl, "/tmp/llmobs-procattr-XXXXXX");
	assert_non_null(mkdtemp(tmpl));
	PUTS("proc/4242/status", "Name:\tnode\nUmask:\t0022\nState:\tS\nUid:\t1001\t1001\t1001\t1001\n");
	put("proc/4242/cmdline", cmdline, sizeof(cmdline) - 1);
	put("proc/4242/environ", environ_ok, sizeof(environ_ok) - 1);
	PUTS("proc/4242/cgroup",
	    "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod"
	    "1f2e3d4c_5b6a_4978_8695_a4b3c2d1e0f9.slice/cri-containerd-" ID64 ".scope\n");
	link_to("proc/4242/exe", "/usr/bin/node");
	link_to("proc/4242/cwd", "/");
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmpl);
	mkdir(rootfs, 0755);
	link_to("proc/4242/root", rootfs);
	PUTS("host/run/containerd/io.containerd.runtime.v2.task/k8s.io/" ID64 "/config.json",
	    "{\"ociVersion\":\"1.1.0\",\"annotations\":{"
	    "\"io.kubernetes.cri.sandbox-namespace\":\"ml\","
	    "\"io.kubernetes.cri.sandbox-name\":\"ranker-7d9f\","
	    "\"io.kubernetes.cri.container-name\":\"ranker\","
	    "\"io.kubernetes.cri.image-name\":\"registry.local/ranker:1.4\"}}");
	/* a second process: no container, a bad project value, a pod dir only */
	put("proc/5151/status", "Uid:\t0\t0\t0\t0\n", 14);
	put("proc/5151/cmdline", "/usr/bin/curl\0-s\0", 17);
	put("proc/5151/environ", "LLMOBS_PROJECT=bad value;rm\0", 28);
	PUTS("proc/5151/cgroup", "0::/kubepods/burstable/pod0a0b0c0d-1111-2222-3333-444455556666/" ID64B "\n");
	link_to("proc/5151/exe", "/usr/bin/curl");
	PUTS("host/var/lib/kubelet/pods/0a0b0c0d-1111-2222-3333-444455556666/etc-hosts",
	    "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n"
	    "10.1.2.3\tfetcher-abc12\n");
	PUTS("host/var/lib/kubelet/pods/0a0b0c0d-1111-2222-3333-444455556666/volumes/"
	    "kubernetes.io~projected/kube-api-access-x1/namespace", "tools\n");
	put("host/var/lib/kubelet/pods/0a0b0c0d-1111-2222-3333-444455556666/containers/fetch/0", "", 0);
}

static int rule_by_image(void *ctx, const struct procattr *a, const cJSON *labels, char *out,
			 size_t size)
{
	if (strcmp(a->app, "curl"))
		return 0;
	snprintf(out, size, "from-rule");
	return 1;
}

static void test_resolve(void **state)
{
	char proc[256], host[256], *json = NULL;
	struct cache_hash_key key;
	struct exchange_record *r = calloc(1, sizeof(*r));
	struct procattr_table *t;
	const struct procattr *a;
	uint64_t invalid0 = stats[STAT_PROJECT_INVALID];
	size_t jlen = 0;
	FILE *f;

	assert_non_null(r);
	build_node();
	snprintf(proc, sizeof(proc), "%s/proc", tmpl);
	snprintf(host, sizeof(host), "%s/host", tmpl);
	assert_int_equal(cache_hash_key_init(&key, (const uint8_t *)"0123456789abcdef", 16), 0);
	t = procattr_new(&(struct procattr_opts){ .proc_root = proc, .host_root = host,
						  .hash = test_hash, .hash_ctx = &key,
						  .project = rule_by_image, .slots = 8 });
	assert_non_null(t);
	a = procattr_get(t, 4242);
	assert_int_equal(a->uid, 1001);
	assert_string_equal(a->app, "gemini");
	assert_string_equal(a->cg.runtime, "containerd");
	assert_string_equal(a->cg.container_id, ID64);
	assert_string_equal(a->cg.pod_uid, "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9");
	assert_string_equal(a->k8s_namespace, "ml");
	assert_string_equal(a->k8s_pod, "ranker-7d9f");
	assert_string_equal(a->k8s_container, "ranker");
	assert_string_equal(a->image, "registry.local/ranker:1.4");
	assert_string_equal(a->project, "search-ranking");	/* the environment beats rules */
	/* the keyed hash of the whole cmdline, nothing else of it */
	{
		char want[17];

		snprintf(want, sizeof(want), "%016llx",
			 (unsigned long long)cache_hash_once(&key, cmdline, sizeof(cmdline) - 1));
		assert_string_equal(a->cmdline_hash, want);
	}
	procattr_to_record(a, r);
	f = open_memstream(&json, &jlen);
	assert_non_null(f);
	assert_int_equal(record_write_json(f, r), 0);
	fclose(f);
	assert_non_null(strstr(json, "\"project\":\"search-ranking\""));
	assert_non_null(strstr(json, "\"k8s_pod\":\"ranker-7d9f\""));
	assert_null(strstr(json, "CANARY"));
	assert_null(strstr(json, "--api-key"));
	free(json);

	a = procattr_get(t, 5151);
	assert_int_equal(a->uid, 0);
	assert_string_equal(a->app, "curl");
	assert_string_equal(a->cg.runtime, "");	/* cgroupfs kubelet: not said */
	assert_string_equal(a->k8s_pod, "fetcher-abc12");
	assert_string_equal(a->k8s_namespace, "tools");
	assert_string_equal(a->k8s_container, "fetch");
	assert_string_equal(a->project, "from-rule");	/* the bad value is refused, counted */
	assert_int_equal(stats[STAT_PROJECT_INVALID], invalid0 + 1);

	/* gone: kept for what it leaves; a pid with no /proc entry is empty */
	procattr_note_exit(t, 4242);
	assert_non_null(procattr_peek(t, 4242));
	assert_string_equal(procattr_peek(t, 4242)->app, "gemini");
	a = procattr_get(t, 777);
	assert_int_equal(a->uid, -1);
	assert_string_equal(a->app, "");
	assert_null(procattr_peek(t, 12345));
	procattr_note_exec(t, 5151);
	assert_null(procattr_peek(t, 5151));

	procattr_free(t);
	cache_hash_key_free(&key);
	free(r);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_shapes),
		cmocka_unit_test(test_cgroup_limits_and_file),
		cmocka_unit_test(test_app_names),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
