/* fuzz_compile.c: a libFuzzer harness over the whole pipeline.
 *
 * The input is a .tr source. It is loaded the way the command loads a file
 * (through src_load, from a memfd, so NUL bytes reach the byte check),
 * parsed, checked, its diagnostics printed, and when it compiles both
 * targets are emitted (iptables for IPv4 and IPv6, nft) and their text
 * checked for what must hold of any output loaded as root: printable ASCII
 * only, known line shapes, one table each, balanced quotes and braces. The
 * audit views read the same model and are checked too: --explain text (no
 * control characters), --explain=json (valid JSON), --graph (balanced DOT).
 * A refused source must come with an error. A broken invariant aborts,
 * which libFuzzer reports as a crash like any sanitizer finding.
 *
 * The pipeline is compile_run, the entry point of compiler/main.c, once
 * per target.
 * Built by fuzz/fuzz.mk; FUZZ_ROOT is the checkout, so that includes of the
 * stdlib and of the test helpers (inc/site.tr) resolve from anywhere. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compile.h"
#include "diag.h"
#include "emit_ipt.h"
#include "emit_nft.h"
#include "coexist.h"
#include "explain.h"
#include "graph.h"
#include "src.h"

#ifndef FUZZ_ROOT
#define FUZZ_ROOT "."
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;
static char memfd_path[64];
static int verbose = -1;   /* FUZZ_VERBOSE=1: show diagnostics and outputs */

/* Says which invariant broke, shows the output, and aborts. */
static void fail(const char *target, const struct buf *out, size_t at,
		 const char *why)
{
	fprintf(stderr, "fuzz_compile: %s output, byte %zu: %s\n", target, at, why);
	fprintf(stderr, "---- %s output ----\n%.*s\n---- end ----\n", target,
		(int)(out->len > 65536 ? 65536 : out->len), out->data ? out->data : "");
	abort();
}

static bool starts(const char *line, size_t n, const char *prefix)
{
	size_t k = strlen(prefix);
	return n >= k && memcmp(line, prefix, k) == 0;
}

static bool is(const char *line, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(line, word, n) == 0;
}

/* Only printable ASCII, tab and newline; the text ends with a newline. */
static void check_bytes(const char *target, const struct buf *out)
{
	if (out->len == 0 || out->data[out->len - 1] != '\n')
		fail(target, out, out->len, "empty, or no newline at the end");
	for (size_t i = 0; i < out->len; i++) {
		unsigned char c = (unsigned char)out->data[i];
		if (!(c == '\n' || c == '\t' || (c >= 0x20 && c <= 0x7e)))
			fail(target, out, i, "byte outside printable ASCII, tab and newline");
	}
}

/* Text for a terminal that quotes source lines (UTF-8 allowed, the source
 * was checked): no C0 or C1 control character but tab and newline, so that
 * no byte of a source (a CR, an escape sequence in a # comment) can
 * overwrite or hide what a reviewer reads; diag.c's put_safe() is the
 * model. */
static void check_text(const char *target, const struct buf *out)
{
	if (out->len == 0 || out->data[out->len - 1] != '\n')
		fail(target, out, out->len, "empty, or no newline at the end");
	for (size_t i = 0; i < out->len; i++) {
		unsigned char c = (unsigned char)out->data[i];
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			fail(target, out, i, "control character in text for a terminal");
		/* C1 controls, U+0080..U+009F (CSI is U+009B). */
		if (c == 0xc2 && i + 1 < out->len &&
		    (unsigned char)out->data[i + 1] >= 0x80 &&
		    (unsigned char)out->data[i + 1] < 0xa0)
			fail(target, out, i, "C1 control character in text for a terminal");
	}
}

/* Double quotes of a line that are not escaped by a backslash inside a
 * quoted field; an odd count means a field is left open. */
static size_t unescaped_quotes(const char *line, size_t n)
{
	size_t q = 0;
	bool in = false;
	for (size_t i = 0; i < n; i++) {
		if (in && line[i] == '\\') {
			i++;
			continue;
		}
		if (line[i] == '"') {
			q++;
			in = !in;
		}
	}
	return q;
}

/* iptables-restore input: "*filter" ... COMMIT, then "*nat" ... COMMIT;
 * chains (":") and rules ("-A ") only inside a table, comments anywhere. */
static void check_ipt(const char *target, const struct buf *out)
{
	check_bytes(target, out);
	unsigned filter = 0, nat = 0, commit = 0;
	bool inside = false;
	for (size_t at = 0; at < out->len;) {
		const char *line = out->data + at;
		const char *nl = memchr(line, '\n', out->len - at);
		size_t n = (size_t)(nl - line);
		if (starts(line, n, "*")) {
			if (inside)
				fail(target, out, at, "a table starts before COMMIT");
			if (is(line, n, "*filter") && filter == 0 && nat == 0)
				filter++;
			else if (is(line, n, "*nat") && filter == 1 && nat == 0)
				nat++;
			else
				fail(target, out, at, "a table other than *filter, then *nat");
			inside = true;
		} else if (is(line, n, "COMMIT")) {
			if (!inside)
				fail(target, out, at, "COMMIT outside a table");
			commit++;
			inside = false;
		} else if (starts(line, n, "-A ") || starts(line, n, ":")) {
			if (!inside)
				fail(target, out, at, "a chain or rule outside a table");
			if (unescaped_quotes(line, n) % 2 != 0)
				fail(target, out, at, "odd number of unescaped quotes");
		} else if (!starts(line, n, "#")) {
			fail(target, out, at, "a line of no known shape");
		}
		at += n + 1;
	}
	if (filter != 1 || nat != 1 || commit != 2)
		fail(target, out, 0, "not exactly one *filter, one *nat and two COMMIT");
}

/* A top-level line of the nft file that is not the table's block: the
 * "table F N" / "delete table F N" pairs that make the load atomic. */
static bool nft_top_line(const char *line, size_t n, const char *table)
{
	static const char *const fams[] = {"ip", "ip6", "inet"};
	char want[160];
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		snprintf(want, sizeof(want), "table %s %s", fams[i], table);
		if (is(line, n, want))
			return true;
		snprintf(want, sizeof(want), "delete table %s %s", fams[i], table);
		if (is(line, n, want))
			return true;
	}
	return n == 0;
}

static bool nft_block_line(const char *line, size_t n, const char *table)
{
	static const char *const fams[] = {"ip", "ip6", "inet"};
	char want[160];
	for (size_t i = 0; i < sizeof(fams) / sizeof(fams[0]); i++) {
		snprintf(want, sizeof(want), "table %s %s {", fams[i], table);
		if (is(line, n, want))
			return true;
	}
	return false;
}

/* Balanced braces outside strings, and the only block opened at the top
 * level is "table FAMILY NAME {": anything else there would be a second
 * table or a command of its own. */
static void check_nft(const struct buf *out, const char *table)
{
	check_bytes("nft", out);
	unsigned blocks = 0;
	long depth = 0;
	for (size_t at = 0; at < out->len;) {
		const char *line = out->data + at;
		const char *nl = memchr(line, '\n', out->len - at);
		size_t n = (size_t)(nl - line);
		if (starts(line, n, "#")) {
			if (depth != 0)
				fail("nft", out, at, "a '#' line inside the table");
			at += n + 1;
			continue;
		}
		if (depth == 0) {
			if (nft_block_line(line, n, table))
				blocks++;
			else if (!nft_top_line(line, n, table))
				fail("nft", out, at, "a top-level line other than the "
				     "table and its delete");
		}
		/* nft strings have no escapes: a quote always toggles. */
		bool in = false;
		for (size_t i = 0; i < n; i++) {
			if (line[i] == '"') {
				in = !in;
			} else if (in) {
				continue;
			} else if (line[i] == '{') {
				depth++;
			} else if (line[i] == '}') {
				if (--depth < 0)
					fail("nft", out, at + i, "'}' closes more than was opened");
			} else if (line[i] == '#') {
				fail("nft", out, at + i, "'#' outside a string comments out "
				     "the rest of the line");
			}
		}
		if (in)
			fail("nft", out, at, "odd number of quotes on a line");
		at += n + 1;
	}
	if (depth != 0)
		fail("nft", out, out->len, "braces not balanced at the end");
	if (blocks != 1)
		fail("nft", out, 0, "not exactly one \"table FAMILY NAME {\" block");
}

/* JSON (RFC 8259), just enough to say whether the text is one value. */
struct json {
	const char *p, *end;
	int depth;
};

static void json_ws(struct json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' ||
				 *j->p == '\r'))
		j->p++;
}

static bool json_lit(struct json *j, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool json_string(struct json *j)
{
	if (j->p >= j->end || *j->p != '"')
		return false;
	for (j->p++; j->p < j->end; j->p++) {
		unsigned char c = (unsigned char)*j->p;
		if (c == '"') {
			j->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (++j->p >= j->end)
			return false;
		if (*j->p == 'u') {
			for (int k = 0; k < 4; k++)
				if (++j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p))
					return false;
		} else if (!strchr("\"\\/bfnrt", *j->p) || *j->p == '\0') {
			return false;
		}
	}
	return false;
}

static bool json_digits(struct json *j)
{
	const char *start = j->p;
	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > start;
}

static bool json_number(struct json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!json_digits(j))
		return false;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!json_digits(j))
			return false;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!json_digits(j))
			return false;
	}
	return true;
}

static bool json_value(struct json *j)
{
	json_ws(j);
	if (j->p >= j->end || ++j->depth > 64)
		return false;
	bool ok;
	char c = *j->p;
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		j->p++;
		json_ws(j);
		ok = true;
		if (j->p < j->end && *j->p == close) {
			j->p++;
		} else {
			for (;;) {
				if (c == '{') {
					json_ws(j);
					if (!json_string(j))
						return false;
					json_ws(j);
					if (j->p >= j->end || *j->p++ != ':')
						return false;
				}
				if (!json_value(j))
					return false;
				json_ws(j);
				if (j->p < j->end && *j->p == ',') {
					j->p++;
					continue;
				}
				if (j->p >= j->end || *j->p++ != close)
					return false;
				break;
			}
		}
	} else if (c == '"') {
		ok = json_string(j);
	} else if (c == 't' || c == 'f' || c == 'n') {
		ok = json_lit(j, "true") || json_lit(j, "false") || json_lit(j, "null");
	} else {
		ok = json_number(j);
	}
	j->depth--;
	return ok;
}

/* UTF-8 from the source (a # comment quoted in "lines") is valid JSON: the
 * validator refuses raw control characters in strings, and JSON has no
 * others. */
static void check_json(const char *target, const struct buf *out)
{
	if (out->len == 0 || out->data[out->len - 1] != '\n')
		fail(target, out, out->len, "empty, or no newline at the end");
	struct json j = {out->data, out->data + out->len, 0};
	if (!json_value(&j))
		fail(target, out, (size_t)(j.p - out->data), "not valid JSON");
	json_ws(&j);
	if (j.p != j.end)
		fail(target, out, (size_t)(j.p - out->data), "text after the JSON value");
}

/* DOT: quoted strings closed on their line (backslash escapes), braces
 * balanced outside them, one top-level "digraph" block, // comments. */
static void check_dot(const char *target, const struct buf *out)
{
	check_bytes(target, out);
	long depth = 0;
	unsigned blocks = 0;
	for (size_t at = 0; at < out->len;) {
		const char *line = out->data + at;
		const char *nl = memchr(line, '\n', out->len - at);
		size_t n = (size_t)(nl - line);
		size_t lead = strspn(line, "\t ");
		if (lead < n && starts(line + lead, n - lead, "//")) {
			at += n + 1;
			continue;
		}
		if (depth == 0 && n > 0) {
			if (!is(line, n, "digraph tcproutec {"))
				fail(target, out, at, "a top-level line other than the graph");
			blocks++;
		}
		bool in = false;
		for (size_t i = 0; i < n; i++) {
			if (in && line[i] == '\\') {
				i++;
			} else if (line[i] == '"') {
				in = !in;
			} else if (!in && line[i] == '{') {
				depth++;
			} else if (!in && line[i] == '}' && --depth < 0) {
				fail(target, out, at + i, "'}' closes more than was opened");
			}
		}
		if (in)
			fail(target, out, at, "a string left open at the end of a line");
		at += n + 1;
	}
	if (depth != 0 || blocks != 1)
		fail(target, out, out->len, "not exactly one balanced digraph block");
}

/* Diagnostics go to memory: printing them is part of what is fuzzed (the
 * quoted source line, tabs, carets), but not what the fuzzer shows. */
static void print_diags(struct diag_ctx *d, bool color)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		abort();
	diag_print(d, f, color);
	fclose(f);
	if (verbose)
		fwrite(text, 1, len, stderr);
	free(text);
}

static void show(const char *target, const struct buf *out)
{
	if (verbose)
		fprintf(stderr, "---- %s ----\n%.*s", target, (int)out->len, out->data);
}

/* Every output of one target's plan, and the checks that must hold of it. */
static void check_outputs(const struct plan *p)
{
	struct buf out;
	buf_init(&out);
	if (p->target == PLAN_NFT) {
		emit_nft(p, EMIT_NFT_DEFAULT_TABLE, &out);
		show("nft", &out);
		check_nft(&out, EMIT_NFT_DEFAULT_TABLE);
	} else {
		int family = p->target == PLAN_IP6TABLES ? 6 : 4;
		const char *target = plan_target_name(p->target);
		emit_ipt(p, family, &out);
		show(target, &out);
		check_ipt(target, &out);
	}
	/* The audit views read the same plan: --explain, --graph. */
	out.len = 0;
	explain_print(p, EXPLAIN_TEXT, &out);
	show("explain", &out);
	check_text("explain", &out);
	out.len = 0;
	explain_print(p, EXPLAIN_JSON, &out);
	show("explain=json", &out);
	check_json("explain=json", &out);
	out.len = 0;
	graph_print(p, &out);
	show("graph", &out);
	check_dot("graph", &out);
	buf_free(&out);
}

/* --coexist: the same checks, and what the mode promises: the iptables
 * file names only chains of its own (no builtin chain, no policy), the
 * nft table has no drop policy, the hooks script is text. */
static void check_coexist(const struct plan *p, const struct coexist *cx)
{
	struct buf out;
	buf_init(&out);
	if (p->target == PLAN_NFT) {
		emit_nft_coexist(p, cx, EMIT_NFT_DEFAULT_TABLE, &out);
		show("nft --coexist", &out);
		check_nft(&out, EMIT_NFT_DEFAULT_TABLE);
		for (size_t at = 0; at < out.len;) {
			const char *line = out.data + at;
			const char *nl = memchr(line, '\n', out.len - at);
			size_t n = (size_t)(nl - line);
			if (starts(line, n, "\t\ttype ") && memmem(line, n, "policy drop;", 12))
				fail("nft --coexist", &out, at, "a base chain with policy drop");
			at += n + 1;
		}
	} else {
		int family = p->target == PLAN_IP6TABLES ? 6 : 4;
		emit_ipt_coexist(p, cx, family, &out);
		show("iptables --coexist", &out);
		check_ipt("iptables --coexist", &out);
		for (size_t at = 0; at < out.len;) {
			const char *line = out.data + at;
			const char *nl = memchr(line, '\n', out.len - at);
			size_t n = (size_t)(nl - line);
			if ((starts(line, n, ":") && !starts(line, n, ":TRC-")) ||
			    (starts(line, n, "-A ") && !starts(line, n, "-A TRC-")))
				fail("iptables --coexist", &out, at, "a builtin chain");
			at += n + 1;
		}
		out.len = 0;
		emit_ipt_hooks(p, family, &out);
		show("hooks", &out);
		check_bytes("hooks", &out);
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > SRC_MAX_FILE_SIZE)
		return -1;
	if (verbose < 0) {
		const char *v = getenv("FUZZ_VERBOSE");
		verbose = v && *v && strcmp(v, "0") != 0;
	}
	if (memfd < 0) {
		memfd = memfd_create("fuzz.tr", 0);
		if (memfd < 0) {
			perror("fuzz_compile: memfd_create");
			abort();
		}
		snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
	}
	if (ftruncate(memfd, 0) != 0 ||
	    (size > 0 && pwrite(memfd, data, size, 0) != (ssize_t)size)) {
		perror("fuzz_compile: memfd");
		abort();
	}

	/* One compile per target, each with the plan of its own: the emitters
	 * and audit views of that target read it. */
	static const char *const dirs[] = {FUZZ_ROOT "/tests/golden",
					   FUZZ_ROOT "/tests/errors"};
	for (int t = PLAN_IPTABLES; t <= PLAN_NFT; t++) {
		struct diag_ctx *d = diag_new();
		/* Displayed as a plain base name, like a compile run in the
		 * file's directory: relative includes look in the working
		 * directory. */
		struct compile_opts o = {
			.target = (enum plan_target)t, .input = memfd_path,
			.display = "fuzz.tr", .include_dirs = dirs,
			.ninclude_dirs = ARRAY_LEN(dirs),
			.stdlib_dir = FUZZ_ROOT "/stdlib",
		};
		struct compile c;
		enum compile_status st = compile_run(&c, &o, d);
		if (st == COMPILE_UNREADABLE) {
			fprintf(stderr, "fuzz_compile: cannot load the input: %s\n", c.error);
			abort();
		}
		/* A refused file must say why: exit 1 with no message is a bug. */
		if (st != COMPILE_OK && diag_errors(d) == 0) {
			fputs("fuzz_compile: refused without an error\n", stderr);
			abort();
		}
		if (st == COMPILE_OK && diag_errors(d) != 0) {
			fputs("fuzz_compile: a plan despite errors\n", stderr);
			abort();
		}
		if (t == PLAN_IPTABLES)
			print_diags(d, size > 0 && (data[0] & 1));
		if (st == COMPILE_OK) {
			check_outputs(c.plan);
			/* As compile_run builds it under --coexist; refused only
			 * with an error. */
			struct diag_ctx *dc = diag_new();
			const struct coexist *cx = coexist_build(c.plan, c.model_arena, dc);
			if (cx)
				check_coexist(c.plan, cx);
			else if (diag_errors(dc) == 0)
				abort();
			diag_free(dc);
		}
		compile_free(&c);
		diag_free(d);
	}
	return 0;
}
