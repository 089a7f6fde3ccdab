/* The exporters' own parts (src/export/): the protobuf wire format, the C
 * export's memory plan and footprint, and the refusal, by name, of a layer
 * an exporter cannot express. End to end (ONNX in OpenCV, the generated C on
 * MNIST) is tests/export/test_export.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "build_helpers.h"
#include "export/export.h"
#include "export/protobuf.h"
#include "file_fixture.h"

static int setup(void **state)
{
	return file_fixture_setup(state, "m.onnx");
}

static int teardown(void **state)
{
	return file_fixture_teardown(state);
}

static const char chain[] =
	"data: {dataset: mnist, validation: 0}\n"
	"input: [1, 28, 28]\n"
	"layers:\n"
	"  - {type: conv, filters: 2, kernel_size: 3, padding: same}\n"
	"  - {type: relu}\n"
	"  - {type: maxpool, pool_size: 2}\n"
	"  - {type: flatten}\n"
	"  - {type: dense, units: 10}\n"
	"optimizer: {type: sgd}\n";

static void test_varints(void **state)
{
	struct pb b = { 0 };
	(void)state;
	pb_int(&b, 1, 300);   /* key 0x08, then 300 = 0b10_0101100 -> ac 02 */
	pb_string(&b, 2, "ab");
	pb_int(&b, 3, -1);    /* int64 -1: ten bytes */
	const unsigned char want[] = { 0x08, 0xac, 0x02, 0x12, 0x02, 'a', 'b', 0x18, 0xff, 0xff, 0xff, 0xff,
	                               0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	assert_int_equal(b.len, sizeof want);
	assert_memory_equal(b.data, want, sizeof want);
	pb_free(&b);
}

static void test_float_and_nesting(void **state)
{
	struct pb outer = { 0 }, inner = { 0 };
	(void)state;
	pb_float(&inner, 2, 1.0f);   /* key 0x15, 00 00 80 3f */
	pb_message(&outer, 7, &inner);
	const unsigned char want[] = { 0x3a, 0x05, 0x15, 0x00, 0x00, 0x80, 0x3f };
	assert_int_equal(outer.len, sizeof want);
	assert_memory_equal(outer.data, want, sizeof want);
	assert_null(inner.data);
	pb_free(&outer);
}

/* A chain needs two arenas; flash is every float parameter. */
static void test_c_footprint(void **state)
{
	struct file_fixture *f = *state;
	struct net *net = bh_net(chain, 1, 1, 1);
	struct export_model m = { .net = net, .name = "chain", .source = "chain.ckpt", .scale = { 1.0 / 255 } };
	struct export_footprint fp;
	assert_ok(f, export_c(&m, NULL, f->dir, "chain", &fp, &f->err));
	assert_int_equal(fp.flash, net->n_params * sizeof(float));
	assert_int_equal(fp.arenas, 2);
	/* conv and relu outputs (2x28x28 each) are live at once: the two arenas */
	assert_int_equal(fp.ram, 2 * 2 * 28 * 28 * sizeof(float));
	net_free(net);
}

/* A type the exporters do not know is refused by the layer's name. */
static void test_unknown_type_refused(void **state)
{
	struct file_fixture *f = *state;
	struct net *net = bh_net(chain, 1, 1, 1);
	struct layer *relu = net->layers[1];
	const struct layer_ops *real = relu->ops;
	struct layer_ops mystery = *real;
	struct export_model m = { .net = net, .name = "chain", .source = "chain.ckpt", .scale = { 1.0 / 255 } };
	struct export_footprint fp;
	char msg[1024];
	mystery.type = "mystery";
	relu->ops = &mystery;
	assert_int_equal(export_onnx(&m, f->path, &f->err), -1);
	assert_string_equal(cnn_error_str(&f->err, msg, sizeof msg), "chain.ckpt: layer 'relu1' (mystery) "
	                    "cannot be exported to ONNX: no ONNX operator is mapped to this type");
	assert_int_equal(export_c(&m, NULL, f->dir, "chain", &fp, &f->err), -1);
	assert_string_equal(cnn_error_str(&f->err, msg, sizeof msg), "chain.ckpt: layer 'relu1' (mystery) "
	                    "cannot be exported to C: the C export has no code for this type");
	FILE *exists = fopen(f->path, "rb");
	assert_null(exists);   /* nothing written */
	relu->ops = real;
	net_free(net);
}

/* Adding a layer type means teaching the exporters too. */
static void test_every_registered_type(void **state)
{
	int n;
	const struct layer_type *types = layer_types(&n);
	(void)state;
	for (int i = 0; i < n; i++) {
		if (!export_onnx_handles(types[i].name) || !export_c_handles(types[i].name) ||
		    !export_int8_handles(types[i].name))
			fail_msg("layer type '%s' is not handled by every exporter (ONNX %d, C %d, int8 %d)",
			         types[i].name, export_onnx_handles(types[i].name), export_c_handles(types[i].name),
			         export_int8_handles(types[i].name));
	}
	assert_false(export_onnx_handles("mystery"));
	assert_false(export_c_handles("mystery"));
	assert_false(export_int8_handles("mystery"));
}

static void test_identifiers(void **state)
{
	(void)state;
	assert_true(export_is_identifier("mnist_tiny"));
	assert_true(export_is_identifier("_m2"));
	assert_false(export_is_identifier("mnist-tiny"));
	assert_false(export_is_identifier("2m"));
	assert_false(export_is_identifier(""));
	char buf[16];
	export_identifier("mnist-tiny", 'm', buf, sizeof buf);
	assert_string_equal(buf, "mnist_tiny");
	export_identifier("1conv", 'l', buf, sizeof buf);
	assert_string_equal(buf, "l1conv");
	export_identifier("", 'm', buf, sizeof buf);
	assert_string_equal(buf, "m");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varints),
		cmocka_unit_test(test_float_and_nesting),
		cmocka_unit_test_setup_teardown(test_c_footprint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type_refused, setup, teardown),
		cmocka_unit_test(test_every_registered_type),
		cmocka_unit_test(test_identifiers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
