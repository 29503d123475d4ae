/* Capture files: see capture_file.h for the layout. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "capture_file.h"

#define WRITE_BUF_BYTES	(1u << 20)
#define RECORD_ALIGN	8

struct capture_file_writer {
	FILE *f;
	char *buf;
	int err;
};

static size_t padded(size_t n)
{
	return (n + RECORD_ALIGN - 1) & ~(size_t)(RECORD_ALIGN - 1);
}

static void header_init(struct capture_file_header *h)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, CAPTURE_FILE_MAGIC, sizeof(h->magic));
	h->version = CAPTURE_FILE_VERSION;
	h->event_header_bytes = sizeof(struct capture_event);
}

static int header_check(const void *p, size_t len)
{
	struct capture_file_header want, got;

	if (len < sizeof(got))
		return -EPROTO;
	memcpy(&got, p, sizeof(got));
	header_init(&want);
	/* A file from a build whose event differs cannot be read as ours. */
	if (memcmp(got.magic, want.magic, sizeof(want.magic)) ||
	    got.version != want.version || got.event_header_bytes != want.event_header_bytes)
		return -EPROTO;
	return 0;
}

int capture_file_create(const char *path, struct capture_file_writer **out)
{
	struct capture_file_header h;
	struct capture_file_writer *w;
	struct stat st;
	int fd, err;

	*out = NULL;
	fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto fail;
	}
	if (st.st_size > 0) {
		if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
		    header_check(&h, sizeof(h))) {
			err = -EPROTO;
			goto fail;
		}
	} else {
		header_init(&h);
		if (write(fd, &h, sizeof(h)) != (ssize_t)sizeof(h)) {
			err = errno ? -errno : -EIO;
			goto fail;
		}
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		err = -ENOMEM;
		goto fail;
	}
	w->buf = malloc(WRITE_BUF_BYTES);
	w->f = w->buf ? fdopen(fd, "a") : NULL;
	if (!w->f) {
		err = w->buf ? -errno : -ENOMEM;
		free(w->buf);
		free(w);
		goto fail;
	}
	setvbuf(w->f, w->buf, _IOFBF, WRITE_BUF_BYTES);
	*out = w;
	return 0;
fail:
	close(fd);
	return err;
}

int capture_file_write(struct capture_file_writer *w, const struct capture_event *ev)
{
	static const char zeros[RECORD_ALIGN];
	size_t size = sizeof(*ev) + ev->data_len, pad = padded(size) - size;
	__u32 lens[2] = { (__u32)size, 0 };

	if (w->err)
		return w->err;
	if (fwrite(lens, sizeof(lens), 1, w->f) != 1 || fwrite(ev, size, 1, w->f) != 1 ||
	    (pad && fwrite(zeros, pad, 1, w->f) != 1))
		w->err = errno ? -errno : -EIO;
	return w->err;
}

int capture_file_flush(struct capture_file_writer *w)
{
	if (!w->err && fflush(w->f))
		w->err = -errno;
	return w->err;
}

int capture_file_close(struct capture_file_writer *w)
{
	int err;

	if (!w)
		return 0;
	err = capture_file_flush(w);
	if (fclose(w->f) && !err)
		err = -errno;
	free(w->buf);
	free(w);
	return err;
}

int capture_file_open(const char *path, struct capture_file_map *m)
{
	struct stat st;
	void *p;
	int fd, err = 0;

	memset(m, 0, sizeof(*m));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if ((size_t)st.st_size < sizeof(struct capture_file_header)) {
		err = -EPROTO;
		goto out;
	}
	p = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		err = -errno;
		goto out;
	}
	err = header_check(p, st.st_size);
	if (err) {
		munmap(p, st.st_size);
		goto out;
	}
	/* A replay walks it once per loop, front to back. */
	madvise(p, st.st_size, MADV_SEQUENTIAL | MADV_WILLNEED);
	m->data = p;
	m->size = st.st_size;
	m->first = sizeof(struct capture_file_header);
out:
	close(fd);
	return err;
}

int capture_file_next(const struct capture_file_map *m, size_t *off,
		      const struct capture_event **ev, size_t *size)
{
	const struct capture_event *e;
	__u32 lens[2];
	size_t at = *off;

	if (at >= m->size)
		return 0;
	if (m->size - at < sizeof(lens))
		return -EBADMSG;
	memcpy(lens, m->data + at, sizeof(lens));
	at += sizeof(lens);
	if (lens[0] < sizeof(*e) || m->size - at < padded(lens[0]))
		return -EBADMSG;
	e = (const struct capture_event *)(m->data + at);
	if (lens[0] != sizeof(*e) + e->data_len)
		return -EBADMSG;
	*ev = e;
	*size = lens[0];
	*off = at + padded(lens[0]);
	return 1;
}

void capture_file_drop_pages(const struct capture_file_map *m)
{
	if (m->data)
		madvise((void *)m->data, m->size, MADV_DONTNEED);
}

void capture_file_unmap(struct capture_file_map *m)
{
	if (m->data)
		munmap((void *)m->data, m->size);
	memset(m, 0, sizeof(*m));
}
