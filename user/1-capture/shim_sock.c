/* The shim listener's socket file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "log.h"
#include "shim_sock.h"

static int make_dir(const char *path, bool any_user)
{
	mode_t mode = any_user ? 0755 : 0700;
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;	/* relative name, or in / */
	*slash = '\0';
	if (mkdir(dir, mode) == 0) {
		if (chmod(dir, mode) < 0)	/* whatever the umask took away */
			return -errno;
		return 0;
	}
	if (errno != EEXIST) {
		p_err("cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (stat(dir, &st) < 0)
		return -errno;
	/* Someone else's directory (a squatted /tmp/llmobs-<uid>) could have
	 * the socket swapped under us. */
	if (!S_ISDIR(st.st_mode) || (st.st_uid != geteuid() && st.st_uid != 0)) {
		p_err("%s is not a directory of uid %u or root: not listening there", dir,
		      (unsigned int)geteuid());
		return -EPERM;
	}
	return 0;
}

/* A socket file nobody listens on is what a killed daemon leaves. */
static int clear_stale(const char *path, const struct sockaddr_un *addr)
{
	struct stat st;
	int fd, err;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		p_err("%s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) < 0 ? errno : 0;
	close(fd);
	if (err != ECONNREFUSED) {
		p_warn("%s: another daemon is listening there", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int shim_sock_listen(const char *path, bool any_user, int *out, dev_t *dev, ino_t *ino)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t mode = any_user ? 0666 : 0600, old;
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		p_err("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	err = make_dir(path, any_user);
	if (!err)
		err = clear_stale(path, &addr);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The mode is right from the start: no window where it is wider. */
	old = umask(0777 & ~mode);
	err = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ? -errno : 0;
	umask(old);
	if (!err && (chmod(path, mode) < 0 || listen(fd, 128) < 0 || stat(path, &st) < 0))
		err = -errno;
	if (err) {
		p_err("cannot listen on %s: %s", path, strerror(-err));
		close(fd);
		return err;
	}
	*out = fd;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

void shim_sock_unlink(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	if (lstat(path, &st) == 0 && st.st_dev == dev && st.st_ino == ino)
		unlink(path);
}
