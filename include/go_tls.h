/* Go crypto/tls capture (bpf/go_tls.bpf.c, user/1-capture/go_tls.c):
 * constants shared by the probes and their loader. Types and constants
 * only, no includes (see capture.h). */
#ifndef LLMOBS_GO_TLS_H
#define LLMOBS_GO_TLS_H

/* Return instructions probed per function; crypto/tls.(*Conn).Write has
 * 8 in Go 1.19. A function with more is not probed (a missed RET would
 * leave its calls unseen, not wrong, but say so rather than guess). */
#define GO_TLS_MAX_RETS		32

/* Calls under way, one per goroutine in a call: LRU, so goroutines that
 * die inside Read cannot fill it. */
#define GO_TLS_MAX_CALLS	16384

#endif /* LLMOBS_GO_TLS_H */
