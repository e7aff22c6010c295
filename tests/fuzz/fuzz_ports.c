/* The local port range and its reserved ports (lib/census/census_ports.c:
 * cw_port_sys_set, the parser of ip_local_reserved_ports text that
 * cw_port_sys_read feeds). Input: LO and HI as two bytes each, then the
 * reserved list ("1000-1010,2000"). The usable count never exceeds the
 * range, and the parse ends for any list. */
#include "fuzz.h"

#include <errno.h>

#include "closewait/census_ports.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cw_port_sys sys;
	unsigned lo, hi;
	char *list;
	int err;

	if (size < 4)
		return 0;
	lo = (unsigned)data[0] << 8 | data[1];
	hi = (unsigned)data[2] << 8 | data[3];
	list = fuzz_cstr(data + 4, size - 4);
	memset(&sys, 0, sizeof(sys));
	err = cw_port_sys_set(&sys, lo, hi, list);
	FUZZ_CHECK(err == 0 || err == -EINVAL);
	if (!err)
		FUZZ_CHECK(sys.usable <= hi - lo + 1);
	free(list);
	return 0;
}
