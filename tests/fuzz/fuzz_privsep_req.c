/* The attacher's request check (user/7-daemon/privsep_proto.c): what the
 * privileged process accepts from the worker, which an attacker may own.
 * Input: the message as received (any length). An accepted request must
 * be exactly one struct privsep_req, copied out unchanged, with magic,
 * version, kind, pid, flags and reserved each in their documented range;
 * a rejected one leaves the output untouched. */
#include <errno.h>
#include "fuzz.h"
#include "privsep_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct privsep_req out, fill;
	char *buf = malloc(size ? size : 1);
	int err;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(&out, 0xa5, sizeof(out));
	fill = out;
	err = privsep_req_parse(buf, size, &out);
	if (err) {
		FUZZ_CHECK(err == -EMSGSIZE || err == -EPROTO || err == -EINVAL, "error %d", err);
		FUZZ_CHECK(!memcmp(&out, &fill, sizeof(out)), "rejected but written");
		free(buf);
		return 0;
	}
	FUZZ_CHECK(size == sizeof(out), "accepted %zu bytes", size);
	FUZZ_CHECK(!memcmp(&out, buf, sizeof(out)), "changed in the copy");
	FUZZ_CHECK(out.magic == PRIVSEP_MAGIC && out.version == PRIVSEP_VERSION, "header");
	FUZZ_CHECK(out.kind >= PRIVSEP_REQ_ATTACH_PID && out.kind < PRIVSEP_REQ__MAX,
		   "kind %u", out.kind);
	FUZZ_CHECK(!out.reserved, "reserved %u", out.reserved);
	if (out.kind == PRIVSEP_REQ_ATTACH_PID || out.kind == PRIVSEP_REQ_EXE ||
	    out.kind == PRIVSEP_REQ_PROCATTR)
		FUZZ_CHECK(out.pid >= 1 && out.pid <= PRIVSEP_PID_MAX, "pid %u", out.pid);
	else
		FUZZ_CHECK(!out.pid && !out.flags, "pid %u flags %u", out.pid, out.flags);
	if (out.kind == PRIVSEP_REQ_ATTACH_PID)
		FUZZ_CHECK(out.flags == PRIVSEP_ATTACH_EXEC || out.flags == PRIVSEP_ATTACH_NOW,
			   "flags %#x", out.flags);
	if (out.kind == PRIVSEP_REQ_EXE || out.kind == PRIVSEP_REQ_PROCATTR)
		FUZZ_CHECK(!out.flags, "flags %#x", out.flags);
	free(buf);
	return 0;
}
