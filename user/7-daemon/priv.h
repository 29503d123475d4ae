/* Dropping what llmobsd's attacher no longer needs once its capture is attached. */
#ifndef LLMOBS_PRIV_H
#define LLMOBS_PRIV_H

/* Keeps, in the permitted, effective and bounding sets, only the
 * capabilities that attaching to TLS libraries loaded later takes, and
 * starting and stopping the unprivileged worker (see priv.c); clears the
 * inheritable and ambient sets, and sets no_new_privs. A process without
 * CAP_SETPCAP (not root) only gets no_new_privs. Returns 0 or -errno. */
int priv_drop_attacher(void);

#endif
