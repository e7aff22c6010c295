/* Output buffers: taken on demand, capped, grown, given back and reused. */
#include "cwtest.h"

#include <errno.h>
#include <string.h>

#include "core/buf.h"

static void test_append_consume_release(void **state)
{
	struct bufpool pool = { 0 };
	struct outbuf *b = NULL;
	uint8_t data[10000];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)i;
	assert_int_equal(outbuf_len(b), 0);
	assert_int_equal(outbuf_append(&pool, &b, data, 100, 1000), 0);
	assert_non_null(b);
	assert_int_equal(pool.held, 1);
	assert_int_equal(outbuf_len(b), 100);
	outbuf_consume(&pool, &b, 40);
	assert_int_equal(outbuf_len(b), 60);
	assert_memory_equal(outbuf_data(b), data + 40, 60);
	outbuf_consume(&pool, &b, 60);
	assert_null(b); /* drained: given back */
	assert_int_equal(pool.held, 0);
	assert_int_equal(pool.nfree[0], 1); /* kept for reuse */
	assert_int_equal(outbuf_append(&pool, &b, data, 10, 1000), 0);
	assert_int_equal(pool.nfree[0], 0); /* reused */
	outbuf_release(&pool, &b);
	bufpool_destroy(&pool);
}

static void test_cap(void **state)
{
	struct bufpool pool = { 0 };
	struct outbuf *b = NULL;
	uint8_t data[4096] = { 0 };

	(void)state;
	assert_int_equal(outbuf_append(&pool, &b, data, 4096, 4000), -ENOBUFS);
	assert_null(b);
	assert_int_equal(outbuf_append(&pool, &b, data, 3000, 4000), 0);
	assert_int_equal(outbuf_append(&pool, &b, data, 1001, 4000), -ENOBUFS);
	assert_int_equal(outbuf_len(b), 3000); /* nothing queued on failure */
	assert_int_equal(outbuf_append(&pool, &b, data, 1000, 4000), 0);
	assert_int_equal(outbuf_len(b), 4000);
	outbuf_release(&pool, &b);
	bufpool_destroy(&pool);
}

static void test_growth_keeps_order(void **state)
{
	struct bufpool pool = { 0 };
	struct outbuf *b = NULL;
	uint8_t data[300000], out[300000];
	size_t in = 0, got = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7);
	/* Append in uneven pieces while consuming some: forces compaction and growth. */
	while (in < sizeof(data)) {
		size_t n = in + 3001 <= sizeof(data) ? 3001 : sizeof(data) - in;

		assert_int_equal(outbuf_append(&pool, &b, data + in, n, 1 << 20), 0);
		in += n;
		if (in % 2 == 1 && b) {
			size_t c = outbuf_len(b) / 3;

			memcpy(out + got, outbuf_data(b), c);
			got += c;
			outbuf_consume(&pool, &b, c);
		}
	}
	memcpy(out + got, outbuf_data(b), outbuf_len(b));
	got += outbuf_len(b);
	outbuf_release(&pool, &b);
	assert_int_equal(got, sizeof(data));
	assert_memory_equal(out, data, sizeof(data));
	assert_int_equal(pool.held, 0);
	bufpool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_consume_release),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_growth_keeps_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
