/* diag.c: see diag.h. */
#include "diag.h"

#include <stdlib.h>
#include <string.h>

static const char *const warning_names[W_COUNT] = {
	[W_UNUSED_DEFINE] = "unused-define",
	[W_DUPLICATE_SERVER] = "duplicate-server",
	[W_LEGACY_TABLE_SIZE] = "legacy-table-size",
};

struct diag {
	enum diag_severity sev;
	struct loc loc;
	char *msg;
	int warning;          /* enum diag_warning, or -1 */
	size_t seq;           /* keeps the sort stable */
	struct diag *notes, *last_note, *next_note;
};

struct diag_ctx {
	struct vec items;     /* struct diag *: errors and warnings */
	struct diag *last;    /* where notes go; NULL when dropped */
	unsigned errors, warnings;
	bool werror;
	bool disabled[W_COUNT];
};

struct diag_ctx *diag_new(void)
{
	return xcalloc(1, sizeof(struct diag_ctx));
}

static void free_one(struct diag *g)
{
	for (struct diag *n = g->notes, *next; n; n = next) {
		next = n->next_note;
		free(n->msg);
		free(n);
	}
	free(g->msg);
	free(g);
}

void diag_free(struct diag_ctx *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->items.len; i++)
		free_one(d->items.items[i]);
	vec_free(&d->items);
	free(d);
}

bool diag_set_warning(struct diag_ctx *d, const char *name, bool on)
{
	for (int i = 0; i < W_COUNT; i++) {
		if (strcmp(name, warning_names[i]) == 0) {
			d->disabled[i] = !on;
			return true;
		}
	}
	return false;
}

void diag_set_werror(struct diag_ctx *d, bool on)
{
	d->werror = on;
}

bool diag_warning_enabled(const struct diag_ctx *d, enum diag_warning w)
{
	return !d->disabled[w];
}

bool diag_werror(const struct diag_ctx *d)
{
	return d->werror;
}

static char *vformat(const char *fmt, va_list ap)
{
	struct buf b;
	buf_init(&b);
	buf_vprintf(&b, fmt, ap);
	buf_cstr(&b);
	return b.data;
}

static struct diag *add(struct diag_ctx *d, enum diag_severity sev,
			struct loc loc, char *msg, int warning)
{
	struct diag *g = xcalloc(1, sizeof(*g));
	g->sev = sev;
	g->loc = loc;
	g->msg = msg;
	g->warning = warning;
	g->seq = d->items.len;
	vec_push(&d->items, g);
	d->last = g;
	return g;
}

void diag_error(struct diag_ctx *d, struct loc loc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = vformat(fmt, ap);
	va_end(ap);
	add(d, DIAG_ERROR, loc, msg, -1);
	d->errors++;
}

void diag_warning(struct diag_ctx *d, enum diag_warning w, struct loc loc,
		  const char *fmt, ...)
{
	if (d->disabled[w]) {
		d->last = NULL;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	char *msg = vformat(fmt, ap);
	va_end(ap);
	add(d, d->werror ? DIAG_ERROR : DIAG_WARNING, loc, msg, (int)w);
	if (d->werror)
		d->errors++;
	else
		d->warnings++;
}

void diag_note(struct diag_ctx *d, struct loc loc, const char *fmt, ...)
{
	if (!d->last)
		return;
	va_list ap;
	va_start(ap, fmt);
	struct diag *n = xcalloc(1, sizeof(*n));
	n->sev = DIAG_NOTE;
	n->loc = loc;
	n->msg = vformat(fmt, ap);
	n->warning = -1;
	va_end(ap);
	if (d->last->last_note)
		d->last->last_note->next_note = n;
	else
		d->last->notes = n;
	d->last->last_note = n;
}

unsigned diag_errors(const struct diag_ctx *d)
{
	return d->errors;
}

unsigned diag_warnings(const struct diag_ctx *d)
{
	return d->warnings;
}

static int cmp_loc(const struct loc *a, const struct loc *b)
{
	int fa = a->file ? a->file->id : 0, fb = b->file ? b->file->id : 0;
	if (fa != fb)
		return fa < fb ? -1 : 1;
	if (a->first_line != b->first_line)
		return a->first_line < b->first_line ? -1 : 1;
	if (a->first_column != b->first_column)
		return a->first_column < b->first_column ? -1 : 1;
	return 0;
}

static int cmp_diag(const void *pa, const void *pb)
{
	const struct diag *a = *(struct diag *const *)pa;
	const struct diag *b = *(struct diag *const *)pb;
	int c = cmp_loc(&a->loc, &b->loc);
	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

#define C_BOLD "\033[1m"
#define C_RED "\033[1;31m"
#define C_MAGENTA "\033[1;35m"
#define C_CYAN "\033[1;36m"
#define C_GREEN "\033[1;32m"
#define C_RESET "\033[0m"

/* Source text and messages may hold any byte; a terminal must only ever see
 * printable text from them. */
static void put_safe(FILE *out, const char *s, size_t n, bool keep_tabs)
{
	struct buf b;
	buf_init(&b);
	buf_add_printable(&b, s, n, keep_tabs);
	if (b.len)
		fwrite(b.data, 1, b.len, out);
	buf_free(&b);
}

static void print_place(FILE *out, const struct loc *loc, bool color)
{
	if (color)
		fputs(C_BOLD, out);
	put_safe(out, loc->file->path, strlen(loc->file->path), false);
	if (loc->first_line > 0) {
		fprintf(out, ":%d", loc->first_line);
		if (loc->first_column > 0)
			fprintf(out, ":%d", loc->first_column);
	}
	fputc(':', out);
	if (color)
		fputs(C_RESET, out);
}

static void print_include_chain(FILE *out, const struct src_file *f, bool color)
{
	bool first = true;
	for (const struct loc *inc = &f->included_from; inc->file;
	     inc = &inc->file->included_from) {
		fputs(first ? "In file included from " : "                 from ", out);
		print_place(out, inc, color);
		fputc('\n', out);
		first = false;
	}
}

/* Whether print_quote shows the line of loc. */
static bool quoted(const struct loc *loc)
{
	return loc->file && loc->first_line >= 1;
}

/* The gutter holds the line number: as wide as the widest one a diagnostic
 * and its notes quote, five at the least (as gcc), so that every bar of
 * the group lines up. */
static int gutter_width(const struct diag *g)
{
	int max = 0;
	if (quoted(&g->loc))
		max = g->loc.first_line;
	for (const struct diag *n = g->notes; n; n = n->next_note)
		if (quoted(&n->loc) && n->loc.first_line > max)
			max = n->loc.first_line;
	int width = 1;
	for (; max >= 10; max /= 10)
		width++;
	return width < 5 ? 5 : width;
}

static void print_quote(FILE *out, const struct loc *loc, int width, bool color)
{
	if (!quoted(loc))
		return;
	size_t len;
	const char *line = src_line(loc->file, loc->first_line, &len);
	fprintf(out, "%*d | ", width, loc->first_line);
	put_safe(out, line, len, true);
	fputc('\n', out);
	if (loc->first_column < 1)
		return;
	fprintf(out, "%*s | ", width, "");
	size_t first = (size_t)loc->first_column - 1;
	size_t last = loc->last_line == loc->first_line && loc->last_column >= loc->first_column
		? (size_t)loc->last_column - 1 : (len ? len - 1 : first);
	/* Tabs are copied so that the caret lines up with the quoted line. */
	for (size_t i = 0; i < first; i++)
		fputc(i < len && line[i] == '\t' ? '\t' : ' ', out);
	if (color)
		fputs(C_GREEN, out);
	fputc('^', out);
	for (size_t i = first + 1; i <= last && i < len; i++)
		fputc('~', out);
	if (color)
		fputs(C_RESET, out);
	fputc('\n', out);
}

static void print_one(FILE *out, const struct diag *g, int width, bool color,
		      bool with_chain)
{
	if (g->loc.file) {
		if (with_chain)
			print_include_chain(out, g->loc.file, color);
		print_place(out, &g->loc, color);
		fputc(' ', out);
	} else {
		fputs("tcproutec: ", out);
	}
	static const char *const label[] = {"error", "warning", "note"};
	static const char *const colors[] = {C_RED, C_MAGENTA, C_CYAN};
	if (color)
		fputs(colors[g->sev], out);
	fprintf(out, "%s:", label[g->sev]);
	if (color)
		fputs(C_RESET, out);
	fputc(' ', out);
	put_safe(out, g->msg, strlen(g->msg), false);
	if (g->warning >= 0)
		fprintf(out, " [%s%s]", g->sev == DIAG_ERROR ? "-Werror=" : "-W",
			warning_names[g->warning]);
	fputc('\n', out);
	print_quote(out, &g->loc, width, color);
}

void diag_print(struct diag_ctx *d, FILE *out, bool color)
{
	if (d->items.len == 0)
		return;
	qsort(d->items.items, d->items.len, sizeof(void *), cmp_diag);
	unsigned shown_errors = 0;
	for (size_t i = 0; i < d->items.len; i++) {
		struct diag *g = d->items.items[i];
		if (g->sev == DIAG_ERROR && shown_errors == DIAG_MAX_ERRORS)
			break;
		if (g->sev == DIAG_ERROR)
			shown_errors++;
		int width = gutter_width(g);
		print_one(out, g, width, color, true);
		for (struct diag *n = g->notes; n; n = n->next_note)
			print_one(out, n, width, color, false);
	}
	if (d->errors > shown_errors)
		fprintf(out, "tcproutec: %u more error%s not shown\n",
			d->errors - shown_errors, d->errors - shown_errors == 1 ? "" : "s");
	if (d->errors && d->warnings)
		fprintf(out, "tcproutec: %u error%s, %u warning%s\n", d->errors,
			d->errors == 1 ? "" : "s", d->warnings, d->warnings == 1 ? "" : "s");
	else if (d->errors)
		fprintf(out, "tcproutec: %u error%s\n", d->errors, d->errors == 1 ? "" : "s");
	else if (d->warnings)
		fprintf(out, "tcproutec: %u warning%s\n", d->warnings,
			d->warnings == 1 ? "" : "s");
}
