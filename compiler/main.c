/* main.c: the tcproutec command. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "compile.h"
#include "delta.h"
#include "diag.h"
#include "emit_ipt.h"
#include "emit_nft.h"
#include "explain.h"
#include "graph.h"
#include "live.h"
#include "out.h"
#include "report.h"
#include "verify.h"
#include "xtsize.h"

enum target { T_IPTABLES, T_IP6TABLES, T_NFT };

struct options {
	enum target target;
	const char *output;
	const char *input;
	const char *nft_table;
	bool check;
	int explain;          /* 0, EXPLAIN_TEXT or EXPLAIN_JSON */
	bool graph;
	const char *verify;   /* --verify: the committed file */
	bool coexist;         /* share the host: own chains / no drop policy */
	bool hooks;           /* --coexist --hooks: the jumps script */
	const char *verify_live;  /* --verify-live: the host's listing */
	int stats;            /* --stats: 0, LIVE_TEXT or LIVE_JSON */
	const char *live;     /* --stats: the host's listing (first operand) */
	const char *since;    /* --since: the source the host was loaded from */
	const char *cleanup;  /* --conntrack-cleanup: the script to write */
	int color;            /* -1 auto, 0 never, 1 always */
	struct vec includes;  /* const char * */
	struct vec defines;   /* const char *, NAME=VALUE */
	bool aff_seed_set;
	uint32_t aff_seed;    /* --affinity-seed */
};

static void usage(FILE *f)
{
	fputs("usage: tcproutec [OPTIONS] FILE.tr\n"
	      "       tcproutec [OPTIONS] --stats[=FORMAT] LIVE FILE.tr\n"
	      "Compile TCP/UDP load-balancing routes into a netfilter ruleset.\n"
	      "\n"
	      "  -t, --target TARGET   iptables (default; rules.v4), ip6tables\n"
	      "                        (rules.v6) or nft\n"
	      "      --nft-table NAME  name of the nft table (default tcproutec)\n"
	      "  -o, --output FILE     write FILE atomically instead of stdout\n"
	      "  -I DIR                add DIR to the include search path\n"
	      "  -D NAME=VALUE         override the source's define NAME\n"
	      "      --affinity-seed N  seed of the client-ip affinity hash\n"
	      "                        (0 to 4294967295, or 0x...; default 0x74726331)\n"
	      "      --check           parse and check only; write nothing\n"
	      "      --explain[=FORMAT]  print the audit view of each route\n"
	      "                        instead: text (default) or json\n"
	      "      --graph           print the routes as a Graphviz DOT graph\n"
	      "      --verify FILE     compare FILE with the compiled output;\n"
	      "                        if it is stale print a diff, exit 1\n"
	      "      --since OLD.tr    write a delta instead: what changes a host that\n"
	      "                        runs OLD.tr's output into this one (nft -f,\n"
	      "                        iptables-restore --noflush); guarded\n"
	      "      --conntrack-cleanup FILE  with --since: also write FILE, a sh\n"
	      "                        script that ends the UDP flows to servers\n"
	      "                        that went (conntrack -D)\n"
	      "      --coexist         share the host with Docker and a host firewall:\n"
	      "                        own chains or table only, no drop policy\n"
	      "      --hooks           with --coexist (iptables, ip6tables): write the\n"
	      "                        sh script that installs the jumps instead\n"
	      "      --verify-live LIVE  compare a host's listing (iptables-save,\n"
	      "                        nft list ruleset) with the compiled output;\n"
	      "                        on drift print a diff, exit 1\n"
	      "      --stats[=FORMAT]  per route and server, the new connections\n"
	      "                        the host counted (LIVE: iptables-save -c or\n"
	      "                        nft list ruleset) beside the declared shares:\n"
	      "                        text (default) or json\n"
	      "  -W error              treat warnings as errors\n"
	      "  -W no-NAME            turn off warning NAME (unused-define,\n"
	      "                        duplicate-server, legacy-table-size)\n"
	      "      --color=WHEN      colour diagnostics: auto, always, never\n"
	      "  -h, --help            show this help\n"
	      "  -V, --version         show the version\n"
	      "\n"
	      "FILE may be - for standard input. Exit status: 0 compiled,\n"
	      "1 errors in the source, 2 usage or I/O error.\n"
	      "See tcproutec(1) and tcproutec.tr(5).\n", f);
}

static void die_usage(const char *fmt, ...) TRC_PRINTF(1, 2);
static void die_usage(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("tcproutec: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("\nTry 'tcproutec --help' for more information.\n", stderr);
	va_end(ap);
	exit(2);
}

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || n > 64 || !(s[0] == '_' || (s[0] >= 'A' && s[0] <= 'Z') ||
				  (s[0] >= 'a' && s[0] <= 'z')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!(c == '_' || c == '-' || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* s with each control character as '?', for a message: the terminal
 * that shows it must not act on them. Not freed: the program exits. */
static const char *printable(const char *s)
{
	char *t = xstrdup(s);
	for (char *c = t; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return t;
}

/* Tables that iptables-nft and common host firewalls create in the ip,
 * ip6 or inet family (listed in tcproutec(1), --nft-table). The nft output
 * deletes and recreates its table in all three families, so loading it
 * under one of these names would delete the other tool's rules. A
 * trailing '*' matches any suffix. Compared without regard to case: nft
 * names are case-sensitive, but a table that differs from a host's only
 * in case is a trap for whoever reads 'nft list tables'. */
static const struct {
	const char *name, *owner;
} foreign_tables[] = {
	{"filter", "iptables-nft and the stock /etc/nftables.conf"},
	{"nat", "iptables-nft"}, {"mangle", "iptables-nft"},
	{"raw", "iptables-nft"}, {"security", "iptables-nft"},
	{"firewalld", "firewalld"}, {"firewalld_policy_drop", "firewalld"},
	{"docker-bridges", "Docker"},
	{"libvirt_network", "libvirt"},
	{"nm-shared-*", "NetworkManager"},
	{"kube-proxy", "kube-proxy"},
	{"calico", "Calico"},
	{"cni_plugins_masquerade", "the CNI plugins"},
	{"cni_hostport", "the CNI plugins"},
	{"flannel-ipv4", "flannel"}, {"flannel-ipv6", "flannel"},
	{"netavark", "Podman (netavark)"},
	{"lxd", "LXD"}, {"incus", "Incus"},
	{"f2b-table", "fail2ban"},
	{"crowdsec", "the CrowdSec firewall bouncer"},
	{"crowdsec6", "the CrowdSec firewall bouncer"},
	{"sshguard", "sshguard"},
	{"fw4", "OpenWrt's firewall4"},
	{"nixos-fw", "the NixOS firewall"}, {"nixos-nat", "the NixOS firewall"},
};

/* The tool whose table NAME is, or NULL. */
static const char *foreign_table_owner(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(foreign_tables); i++) {
		const char *t = foreign_tables[i].name;
		size_t n = strlen(t);
		if (t[n - 1] == '*' ? strncasecmp(name, t, n - 1) == 0 :
				      strcasecmp(name, t) == 0)
			return foreign_tables[i].owner;
	}
	return NULL;
}

static void parse_args(int argc, char **argv, struct options *o,
		       struct diag_ctx *d)
{
	enum { OPT_CHECK = 256, OPT_COLOR, OPT_NFT_TABLE, OPT_EXPLAIN, OPT_GRAPH,
	       OPT_VERIFY, OPT_AFF_SEED, OPT_VERIFY_LIVE, OPT_STATS, OPT_COEXIST,
	       OPT_HOOKS, OPT_SINCE, OPT_CLEANUP };
	static const struct option longopts[] = {
		{"target", required_argument, NULL, 't'},
		{"output", required_argument, NULL, 'o'},
		{"check", no_argument, NULL, OPT_CHECK},
		{"explain", optional_argument, NULL, OPT_EXPLAIN},
		{"graph", no_argument, NULL, OPT_GRAPH},
		{"verify", required_argument, NULL, OPT_VERIFY},
		{"coexist", no_argument, NULL, OPT_COEXIST},
		{"hooks", no_argument, NULL, OPT_HOOKS},
		{"since", required_argument, NULL, OPT_SINCE},
		{"conntrack-cleanup", required_argument, NULL, OPT_CLEANUP},
		{"verify-live", required_argument, NULL, OPT_VERIFY_LIVE},
		{"stats", optional_argument, NULL, OPT_STATS},
		{"nft-table", required_argument, NULL, OPT_NFT_TABLE},
		{"affinity-seed", required_argument, NULL, OPT_AFF_SEED},
		{"color", optional_argument, NULL, OPT_COLOR},
		{"colour", optional_argument, NULL, OPT_COLOR},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":t:o:I:D:W:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (strcmp(optarg, "iptables") == 0)
				o->target = T_IPTABLES;
			else if (strcmp(optarg, "ip6tables") == 0)
				o->target = T_IP6TABLES;
			else if (strcmp(optarg, "nft") == 0)
				o->target = T_NFT;
			else
				die_usage("unknown target '%s' (iptables, ip6tables or nft)", optarg);
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'I':
			vec_push(&o->includes, optarg);
			break;
		case 'D': {
			const char *eq = strchr(optarg, '=');
			if (!eq || !valid_name(optarg, (size_t)(eq - optarg)))
				die_usage("-D wants NAME=VALUE with a valid name, not '%s'",
					  printable(optarg));
			/* One define, on one line: nothing else may ride along,
			 * and the header that records it stays one line. */
			if (has_control(eq + 1))
				die_usage("-D value may not contain a control character "
					  "(newline, tab, escape, ...): '%s'", printable(optarg));
			if (strpbrk(eq + 1, ";#"))
				die_usage("-D value may not contain ';' or '#': '%s'", optarg);
			vec_push(&o->defines, optarg);
			break;
		}
		case 'W':
			if (strcmp(optarg, "error") == 0)
				diag_set_werror(d, true);
			else if (strcmp(optarg, "no-error") == 0)
				diag_set_werror(d, false);
			else if (strncmp(optarg, "no-", 3) == 0 ?
					 !diag_set_warning(d, optarg + 3, false) :
					 !diag_set_warning(d, optarg, true))
				die_usage("unknown warning option '-W %s'", optarg);
			break;
		case OPT_NFT_TABLE:
			if (!valid_name(optarg, strlen(optarg)))
				die_usage("--nft-table wants a name of letters, digits, '_' "
					  "and '-', not '%s'", optarg);
			if (foreign_table_owner(optarg))
				die_usage("--nft-table '%s' is refused: a table of that name "
					  "belongs to %s, and loading the nft output deletes and "
					  "recreates its table (see tcproutec(1))", optarg,
					  foreign_table_owner(optarg));
			o->nft_table = optarg;
			break;
		case OPT_AFF_SEED: {
			char *end;
			errno = 0;
			unsigned long long v = strtoull(optarg, &end, 0);
			if (!isdigit((unsigned char)optarg[0]) || *end || errno || v > 0xffffffffull)
				die_usage("--affinity-seed wants a number from 0 to 4294967295 "
					  "(decimal or 0x...), not '%s'", optarg);
			o->aff_seed_set = true;
			o->aff_seed = (uint32_t)v;
			break;
		}
		case OPT_CHECK:
			o->check = true;
			break;
		case OPT_EXPLAIN:
			if (!optarg || strcmp(optarg, "text") == 0)
				o->explain = EXPLAIN_TEXT;
			else if (strcmp(optarg, "json") == 0)
				o->explain = EXPLAIN_JSON;
			else
				die_usage("--explain wants text or json, not '%s'", optarg);
			break;
		case OPT_GRAPH:
			o->graph = true;
			break;
		case OPT_VERIFY:
			o->verify = optarg;
			break;
		case OPT_COEXIST:
			o->coexist = true;
			break;
		case OPT_HOOKS:
			o->hooks = true;
			break;
		case OPT_SINCE:
			o->since = optarg;
			break;
		case OPT_CLEANUP:
			o->cleanup = optarg;
			break;
		case OPT_VERIFY_LIVE:
			o->verify_live = optarg;
			break;
		case OPT_STATS:
			if (!optarg || strcmp(optarg, "text") == 0)
				o->stats = LIVE_TEXT;
			else if (strcmp(optarg, "json") == 0)
				o->stats = LIVE_JSON;
			else
				die_usage("--stats wants text or json, not '%s'", optarg);
			break;
		case OPT_COLOR:
			if (!optarg || strcmp(optarg, "always") == 0)
				o->color = 1;
			else if (strcmp(optarg, "never") == 0)
				o->color = 0;
			else if (strcmp(optarg, "auto") == 0)
				o->color = -1;
			else
				die_usage("--color wants auto, always or never, not '%s'", optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("tcproutec %s\n", TRC_VERSION);
			exit(0);
		case ':':
			die_usage("option '%s' needs an argument", argv[optind - 1]);
			break;
		default:
			die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	/* --stats LIVE FILE.tr: LIVE is the first operand (an optional
	 * argument cannot be a separate word). */
	if (o->stats) {
		if (argc - optind != 2)
			die_usage("%s", "--stats wants two operands: the host's listing "
				  "LIVE, then FILE.tr");
		o->live = argv[optind++];
	}
	if (optind == argc)
		die_usage("%s", "no input file (use - for standard input)");
	if (optind + 1 < argc)
		die_usage("only one input file, but '%s' follows", argv[optind + 1]);
	o->input = argv[optind];
	if (o->explain && o->graph)
		die_usage("%s", "--explain and --graph cannot be combined");
	if (o->hooks && !o->coexist)
		die_usage("%s", "--hooks needs --coexist (it writes the jumps into the "
			  "chains of the --coexist file)");
	if (o->hooks && o->target == T_NFT)
		die_usage("%s", "--hooks is for -t iptables and -t ip6tables; the nft "
			  "table of --coexist has its own base chains");
	if (o->hooks && (o->explain || o->graph || o->verify_live || o->stats))
		die_usage("--hooks cannot be combined with %s",
			  o->explain ? "--explain" : o->graph ? "--graph" :
			  o->verify_live ? "--verify-live" : "--stats");
	/* The live modes compare with the ruleset itself and write no file
	 * (--stats writes its report, to -o if given). */
	if ((o->verify_live || o->stats) &&
	    (o->verify || o->check || o->explain || o->graph || (o->verify_live && o->stats)))
		die_usage("%s", "--verify-live and --stats take no --verify, --check, "
			  "--explain or --graph, nor each other");
	const char *live = o->verify_live ? o->verify_live : o->live;
	if (o->verify_live && strcmp(o->output, "-") != 0)
		die_usage("%s", "--verify-live takes no -o");
	if (live && strcmp(live, "-") == 0 && strcmp(o->input, "-") == 0)
		die_usage("%s", "the listing and the source cannot both be standard input");
	/* --since writes a delta of the ruleset, nothing else. */
	if (o->since && (o->check || o->explain || o->graph || o->verify || o->hooks ||
			 o->verify_live || o->stats))
		die_usage("%s", "--since cannot be combined with --check, --explain, --graph, "
			  "--verify, --hooks, --verify-live or --stats");
	if (o->cleanup && !o->since)
		die_usage("%s", "--conntrack-cleanup needs --since (the flows to end are those "
			  "of the servers that went since OLD)");
	if (o->cleanup && (strcmp(o->cleanup, "-") == 0 || strcmp(o->cleanup, o->output) == 0))
		die_usage("%s", "--conntrack-cleanup wants a file of its own, not standard "
			  "output or the -o file");
	if (o->since && strcmp(o->since, "-") == 0 && strcmp(o->input, "-") == 0)
		die_usage("%s", "--since OLD and FILE cannot both be standard input");
	/* --verify writes nothing, and reads its file once. */
	if (o->verify && (o->check || strcmp(o->output, "-") != 0 ||
			  (strcmp(o->verify, "-") == 0 && strcmp(o->input, "-") == 0)))
		die_usage("%s", "--verify takes no -o or --check, and not both files "
			  "from standard input");
}

/* The options that change the output, other than -t and -D (which the
 * header takes from the plan and the model), as the words the header's
 * "Compiled with" line and --explain record, in this fixed order whatever
 * the order they were given in. An option at its default is left out, so
 * that giving it or not gives the same bytes; one that does not change
 * this target's output is left out too. A new option that changes the
 * output adds its words here, and a line to tcproutec(1) (section "THE
 * HEADER"), e.g.
 *     if (o->coexist) vec_push(words, "--coexist");
 *     if (o->since) { vec_push(words, "--since"); vec_push(words, base); }
 * (a file by its base name: the output must not depend on the machine). */
static void output_options(const struct options *o, struct vec *words)
{
	if (o->target == T_NFT && strcmp(o->nft_table, EMIT_NFT_DEFAULT_TABLE) != 0) {
		vec_push(words, "--nft-table");
		vec_push(words, (void *)o->nft_table);
	}
	/* In one form, whatever was typed: 4711, 0x1267 and 0x01267 agree. */
	static char seed[16];
	if (o->aff_seed_set && o->aff_seed != PLAN_AFF_SEED_DEFAULT) {
		snprintf(seed, sizeof(seed), "0x%08x", o->aff_seed);
		vec_push(words, "--affinity-seed");
		vec_push(words, seed);
	}
	if (o->coexist)
		vec_push(words, "--coexist");
	if (o->hooks)
		vec_push(words, "--hooks");
}

/* The full output of the chosen target and mode (not --hooks), as it is
 * written. */
static void emit_full(const struct options *o, const struct compile *c, struct buf *out)
{
	int family = o->target == T_IP6TABLES ? 6 : 4;
	if (o->target == T_NFT && o->coexist)
		emit_nft_coexist(c->plan, c->coexist, o->nft_table, out);
	else if (o->target == T_NFT)
		emit_nft(c->plan, o->nft_table, out);
	else if (o->coexist)
		emit_ipt_coexist(c->plan, c->coexist, family, out);
	else
		emit_ipt(c->plan, family, out);
}

/* -W legacy-table-size: a table of the iptables file past what the kernel
 * of iptables-legacy takes (xtsize.h), said after the file is written
 * (iptables-nft loads it). With -W error it is an error: the caller then
 * writes nothing. Returns true when it is an error. */
static bool legacy_size_check(const struct options *o, struct diag_ctx *d,
			      const struct xtsize *x)
{
	if (x->big_size <= XT_MAX_TABLE_SIZE || !diag_warning_enabled(d, W_LEGACY_TABLE_SIZE))
		return false;
	bool err = diag_werror(d);
	fprintf(stderr, "tcproutec: %s: the %s table of this %s file takes %llu MiB in the "
		"kernel of iptables-legacy, over its limit of %llu MiB (XT_MAX_TABLE_SIZE): "
		"%s-legacy-restore refuses it at COMMIT; %s-nft-restore loads it "
		"[-W%slegacy-table-size]\n", err ? "error" : "warning", x->big,
		o->target == T_IP6TABLES ? "ip6tables" : "iptables",
		(unsigned long long)(x->big_size >> 20),
		(unsigned long long)(XT_MAX_TABLE_SIZE >> 20),
		o->target == T_IP6TABLES ? "ip6tables" : "iptables",
		o->target == T_IP6TABLES ? "ip6tables" : "iptables", err ? "error=" : "");
	return err;
}

static void xtsize_tap(void *ctx, const char *p, size_t n)
{
	xtsize_feed(ctx, p, n);
}

/* --since: compiles OLD as the source was compiled (same options), then
 * writes the delta from its output to new's. Returns an exit status. */
static int write_delta(const struct options *o, const struct compile_opts *co,
		       const struct compile *c, struct diag_ctx *d, bool color)
{
	struct compile_opts oco = *co;
	oco.input = o->since;
	oco.display = strcmp(o->since, "-") == 0 ? "<stdin>" : o->since;
	/* The host's rules name the file they were compiled from by its base
	 * name, which is NEW's unless the file was renamed (then the guard
	 * refuses the delta: nothing is lost but its speed). */
	oco.output_base = c->model->source;
	/* OLD is what the host runs: its warnings are old news. */
	struct diag_ctx *od = diag_new();
	struct compile old;
	enum compile_status cs = compile_run(&old, &oco, od);
	int status = 0;
	if (cs == COMPILE_UNREADABLE) {
		fprintf(stderr, "tcproutec: --since: %s\n", old.error);
		status = 2;
	} else if (cs != COMPILE_OK) {
		diag_print(od, stderr, color);
		fprintf(stderr, "tcproutec: --since: %s has errors: the delta needs the source "
			"the host was loaded from, as it compiled then\n", oco.display);
		status = 1;
	}
	if (status) {
		compile_free(&old);
		diag_free(od);
		return status;
	}
	struct buf a, b, header, out;
	buf_init(&a);
	buf_init(&b);
	buf_init(&header);
	buf_init(&out);
	emit_full(o, &old, &a);
	emit_full(o, c, &b);
	if (o->target != T_NFT) {
		struct xtsize x;
		xtsize_init(&x, o->target == T_IP6TABLES ? 6 : 4);
		xtsize_feed(&x, b.data, b.len);
		if (legacy_size_check(o, d, &x))
			status = 1;
	}
	/* OLD by its base name, as a source's name shows in any output. */
	char *base = strcmp(o->since, "-") == 0 ? xstrdup("-") : src_base_name(o->since);
	report_delta_header(c->plan, base, o->target == T_NFT, &header);
	struct delta_counts n;
	char err[512];
	if (status) {
		/* -W error=legacy-table-size: nothing written */
	} else if (!delta_make(o->target == T_NFT, &a, &b, buf_cstr(&header), &out, &n, err,
				sizeof(err))) {
		fprintf(stderr, "tcproutec: %s\n", err);
		status = 2;
	} else if (!out_write(o->output, &out, err, sizeof(err))) {
		fprintf(stderr, "tcproutec: %s\n", err);
		status = 2;
	} else if (o->cleanup) {
		struct buf script, head;
		buf_init(&script);
		buf_init(&head);
		buf_printf(&head, "# Generated by tcproutec %s from %s; do not edit, edit the "
			   "source and recompile.\n# The UDP flows to end after the delta from "
			   "%s to %s (--conntrack-cleanup):\n# those to a server that no longer "
			   "stands behind their listener. TCP is never touched.\n", TRC_VERSION,
			   c->model->source, base, c->model->source);
		cleanup_script(old.model, c->model, o->target == T_NFT ? 0 :
			       o->target == T_IP6TABLES ? 6 : 4, buf_cstr(&head), &script);
		if (!out_write(o->cleanup, &script, err, sizeof(err))) {
			fprintf(stderr, "tcproutec: %s\n", err);
			status = 2;
		}
		buf_free(&script);
		buf_free(&head);
	}
	free(base);
	buf_free(&a);
	buf_free(&b);
	buf_free(&header);
	buf_free(&out);
	compile_free(&old);
	diag_free(od);
	return status;
}

/* The stdlib of the source tree when run from it, else the installed one. */
static char *find_stdlib(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char cand[PATH_MAX + 32];
			snprintf(cand, sizeof(cand), "%s/stdlib/services.tr", exe);
			struct stat st;
			if (stat(cand, &st) == 0) {
				snprintf(cand, sizeof(cand), "%s/stdlib", exe);
				return xstrdup(cand);
			}
		}
	}
	return xstrdup(TRC_STDLIB_DIR);
}

static bool use_color(int opt)
{
	if (opt >= 0)
		return opt == 1;
	const char *no = getenv("NO_COLOR");
	const char *term = getenv("TERM");
	return isatty(STDERR_FILENO) && !(no && *no) && !(term && strcmp(term, "dumb") == 0);
}

int main(int argc, char **argv)
{
	struct options o = {.target = T_IPTABLES, .output = "-", .color = -1,
			    .nft_table = EMIT_NFT_DEFAULT_TABLE};
	struct diag_ctx *d = diag_new();
	parse_args(argc, argv, &o, d);
	bool color = use_color(o.color);

	struct vec words = {0};
	output_options(&o, &words);
	char *stdlib = find_stdlib();
	const char *display = strcmp(o.input, "-") == 0 ? "<stdin>" : o.input;
	static const enum plan_target targets[] = {
		[T_IPTABLES] = PLAN_IPTABLES, [T_IP6TABLES] = PLAN_IP6TABLES,
		[T_NFT] = PLAN_NFT,
	};
	struct compile_opts co = {
		.target = targets[o.target],
		.input = o.input,
		.display = display,
		.include_dirs = (const char *const *)o.includes.items,
		.ninclude_dirs = o.includes.len,
		.path_list = getenv("TCPROUTEC_PATH"),
		.stdlib_dir = stdlib,
		.defines = (const char *const *)o.defines.items,
		.ndefines = o.defines.len,
		.plan = {.aff_seed_set = o.aff_seed_set, .aff_seed = o.aff_seed},
		.options = (const char *const *)words.items,
		.noptions = words.len,
		.coexist = o.coexist,
	};
	struct compile c;
	enum compile_status cs = compile_run(&c, &co, d);
	int status = 0;
	if (cs == COMPILE_UNREADABLE) {
		fprintf(stderr, "tcproutec: %s\n", c.error);
		status = 2;
		goto done;
	}
	diag_print(d, stderr, color);
	if (cs != COMPILE_OK) {
		status = 1;
		goto done;
	}
	if (o.since) {
		status = write_delta(&o, &co, &c, d, color);
	} else if (o.verify_live || o.stats) {
		struct buf compiled, report;
		buf_init(&compiled);
		buf_init(&report);
		emit_full(&o, &c, &compiled);
		struct live_opts lo = {
			.path = o.verify_live ? o.verify_live : o.live,
			.source = display,
			.nft_table = o.nft_table,
			.family = o.target == T_NFT ? 0 : o.target == T_IP6TABLES ? 6 : 4,
			.coexist = o.coexist,
		};
		if (o.verify_live) {
			status = live_verify(c.plan, &lo, &compiled, stdout);
		} else {
			status = live_stats(c.plan, &lo, &compiled, (enum live_format)o.stats,
					    &report);
			char err[512];
			if (status != LIVE_ERROR && !out_write(o.output, &report, err, sizeof(err))) {
				fprintf(stderr, "tcproutec: %s\n", err);
				status = 2;
			}
		}
		buf_free(&compiled);
		buf_free(&report);
	} else if (!o.check) {
		struct buf out;
		buf_init(&out);
		char err[512];
		struct out_file of;
		bool full = !o.explain && !o.graph && !o.hooks;
		bool sized = full && o.target != T_NFT;
		/* When a warning on the written text would be an error, the text
		 * waits in memory until it is known good: nothing is written. */
		bool hold = sized && diag_werror(d) && diag_warning_enabled(d, W_LEGACY_TABLE_SIZE);
		/* The compile has succeeded: from here the text goes out as it
		 * is made, into a temporary file that replaces -o at the end. */
		if (!o.verify && !hold && !out_begin(&of, o.output, &out, err, sizeof(err))) {
			fprintf(stderr, "tcproutec: %s\n", err);
			status = 2;
			goto done;
		}
		struct xtsize x;
		xtsize_init(&x, o.target == T_IP6TABLES ? 6 : 4);
		if (sized) {
			out.tap = xtsize_tap;
			out.tap_ctx = &x;
		}
		if (o.explain)
			explain_print(c.plan, (enum explain_format)o.explain, &out);
		else if (o.graph)
			graph_print(c.plan, &out);
		else if (o.hooks)
			emit_ipt_hooks(c.plan, o.target == T_IP6TABLES ? 6 : 4, &out);
		else
			emit_full(&o, &c, &out);
		buf_tap_end(&out);
		if (sized && legacy_size_check(&o, d, &x)) {
			if (!o.verify && !hold)
				out_abort(&of);
			status = 1;
		} else if (o.verify) {
			status = verify_file(o.verify, display, &out, stdout);
		} else if (hold ? !out_write(o.output, &out, err, sizeof(err))
				: !out_commit(&of, &out, err, sizeof(err))) {
			fprintf(stderr, "tcproutec: %s\n", err);
			status = 2;
		}
		buf_free(&out);
	}
done:
	free(stdlib);
	compile_free(&c);
	diag_free(d);
	vec_free(&o.includes);
	vec_free(&o.defines);
	vec_free(&words);
	return status;
}
