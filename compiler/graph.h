/* graph.h: the routes as a Graphviz DOT graph (--graph).
 *
 * Listeners -> routes -> servers, each edge to a server labelled with the
 * share of new connections it really gets on the target (from the plan).
 * A server that several routes use is one node. Deterministic: nodes and
 * edges in source order. Render with `dot -Tsvg`. */
#ifndef TRC_GRAPH_H
#define TRC_GRAPH_H

#include "explain.h"
#include "model.h"
#include "util.h"

void graph_print(const struct plan *p, struct buf *out);

#endif
