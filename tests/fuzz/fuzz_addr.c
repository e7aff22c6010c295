/* cw_addr_parse and cw_port_parse (lib/addr.c): any string, with and
 * without a port allowed. What parses formats (cw_addr_port_str) into text
 * that parses again to the same port; a port that parses is in range. */
#include "fuzz.h"

#include <errno.h>
#include <netinet/in.h>

#include "closewait/addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct sockaddr_storage ss, again;
	socklen_t len, len2;
	bool has_port, has2;
	uint16_t port;
	int err;

	if (cw_addr_parse(s, &ss, &len, &has_port) == 0) {
		char text[CW_ADDRSTRLEN];

		FUZZ_CHECK(ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
		FUZZ_CHECK(len == (ss.ss_family == AF_INET ? sizeof(struct sockaddr_in)
							   : sizeof(struct sockaddr_in6)));
		FUZZ_CHECK(has_port || cw_addr_port(&ss) == 0);
		FUZZ_CHECK(cw_addr_port_str(&ss, text, sizeof(text)) == 0);
		FUZZ_CHECK(cw_addr_parse(text, &again, &len2, &has2) == 0);
		FUZZ_CHECK(has2 && cw_addr_port(&again) == cw_addr_port(&ss));
	}
	if (cw_addr_parse(s, &ss, &len, NULL) == 0)
		FUZZ_CHECK(cw_addr_port(&ss) == 0);
	err = cw_port_parse(s, false, &port);
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -ERANGE);
	FUZZ_CHECK(err || port > 0);
	err = cw_port_parse(s, true, &port);
	FUZZ_CHECK(err == 0 || err == -EINVAL || err == -ERANGE);
	free(s);
	return 0;
}
